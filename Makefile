# facegate: the commands a newcomer needs. `make run` and `make test` set up everything they use.
SHELL := /bin/bash
BIN := node_modules/.bin
# onnxruntime-node's install script downloads CUDA binaries, which neither CI nor a closed gateway
# can reach (the CPU provider ships in the package): package.json's allowScripts does not run it,
# and this tells it to skip should an npm without allowScripts run it anyway.
export ONNXRUNTIME_NODE_INSTALL := skip

# Debian packages the project needs: ffmpeg reads the cameras; systemd-analyze checks the unit;
# mosquitto_sub (mosquitto-clients) watches the events of `make run`; Mosquitto (and openssl for
# its test CA) and the GStreamer RTSP server (Python GObject bindings) are the real broker and
# camera the tests use; qemu-user runs the int8 encoder test on an emulated CPU without VNNI;
# chromium is the real browser the console's tests drive (playwright-core).
DEB_PACKAGES := chromium ffmpeg mosquitto mosquitto-clients openssl systemd qemu-user python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base \
	gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav \
	gstreamer1.0-tools

.PHONY: all deps node-deps install models int8-ranges build check typecheck lint format test bench bench-quality config-docs mqtt-docs gallery-docs api-docs run clean

all: build

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "Installing Debian packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else \
	  echo "Missing Debian packages: $$missing. Install them with:"; \
	  echo "  sudo apt-get install -y --no-install-recommends $$missing"; \
	fi

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

node-deps: node_modules/.installed

# Converts the packaged tfjs weights into models/*.onnx; deterministic, about 1 s.
models: node-deps
	$(BIN)/tsx tools/convert-models.ts

# Re-measures the int8 encoder's activation ranges into tools/int8-ranges.json (committed; run
# it when a network or the alignment changes, then `make models`).
int8-ranges: node-deps models
	$(BIN)/tsx tools/int8-ranges.ts

build: node-deps models
	$(BIN)/tsc -p tsconfig.build.json

typecheck: node-deps
	$(BIN)/tsc --noEmit

lint: node-deps
	$(BIN)/eslint .

format: node-deps
	$(BIN)/prettier --write .

check: typecheck lint
	$(BIN)/prettier --check .

test: deps node-deps models
	$(BIN)/vitest run

bench: deps node-deps build
	node --expose-gc --import tsx bench/run.ts

# How accuracy falls as lfw-dev faces are shrunk or blurred: the basis of the quality gates (minutes).
bench-quality: node-deps models
	$(BIN)/tsx bench/quality-sweep.ts

# config/default.json and docs/configuration.md, generated from the schema in src/config.
config-docs: node-deps
	$(BIN)/tsx tools/config-docs.ts

# docs/mqtt.md, generated from the payload schemas in src/events/topics.ts.
mqtt-docs: node-deps
	$(BIN)/tsx tools/mqtt-docs.ts

# docs/gallery.md, generated from the manifest schema in src/gallery/manifest.ts.
gallery-docs: node-deps
	$(BIN)/tsx tools/gallery-docs.ts

api-docs: node-deps
	$(BIN)/tsx tools/api-docs.ts

# Installs facegate as a systemd service: the built project with its production packages in
# $(PREFIX), the unit, the system user, and (if absent) /etc/facegate/config.json and an empty
# mqtt-password (the unit loads it as a credential). DESTDIR stages it elsewhere (packaging, tests).
# As root on a live system it also creates the user and reloads systemd; start with
# `systemctl enable --now facegate`.
PREFIX ?= /opt/facegate
install: build
	install -d $(DESTDIR)$(PREFIX) $(DESTDIR)/etc/systemd/system $(DESTDIR)/usr/lib/sysusers.d
	rm -rf $(DESTDIR)$(PREFIX)/dist $(DESTDIR)$(PREFIX)/node_modules
	cp -a dist models web package.json package-lock.json README.md $(DESTDIR)$(PREFIX)/
	cp -a node_modules $(DESTDIR)$(PREFIX)/
	cd $(DESTDIR)$(PREFIX) && npm prune --omit=dev --no-audit --no-fund >/dev/null
	# onnxruntime-node ships binaries for every OS (about 200 MB that never load here).
	find $(DESTDIR)$(PREFIX)/node_modules/onnxruntime-node/bin -mindepth 2 -maxdepth 2 -type d ! -name linux -exec rm -rf {} +
	install -m 644 systemd/facegate.service $(DESTDIR)/etc/systemd/system/facegate.service
	install -m 644 'systemd/facegate-door@.service' '$(DESTDIR)/etc/systemd/system/facegate-door@.service'
	install -m 644 systemd/facegate.sysusers.conf $(DESTDIR)/usr/lib/sysusers.d/facegate.conf
	install -d -m 755 $(DESTDIR)/etc/facegate
	test -e $(DESTDIR)/etc/facegate/config.json || echo '{}' > $(DESTDIR)/etc/facegate/config.json
	test -e $(DESTDIR)/etc/facegate/mqtt-password || install -m 600 /dev/null $(DESTDIR)/etc/facegate/mqtt-password
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && [ -d /run/systemd/system ]; then \
	  systemd-sysusers /usr/lib/sysusers.d/facegate.conf && systemctl daemon-reload; \
	  echo "installed: systemctl enable --now facegate"; \
	fi

# The daemon on its defaults: with no camera configured it plays a demo clip made from the
# sample photos of @vladmandic/face-api and logs match and unknown events (Ctrl-C stops it).
run: deps build
	MALLOC_ARENA_MAX=2 node dist/src/cli/bin.js run

clean:
	rm -rf dist coverage models/*.onnx models/self-check-*
