# facegate: the commands a newcomer needs. `make run` and `make test` set up everything they use.
SHELL := /bin/bash
BIN := node_modules/.bin
# Belt and braces with .npmrc: onnxruntime-node's installer must not download CUDA binaries.
export ONNXRUNTIME_NODE_INSTALL := skip

# Debian packages the project needs: ffmpeg reads the cameras; systemd-analyze checks the unit;
# Mosquitto (and openssl for its
# test CA) and the GStreamer RTSP server (Python GObject bindings) are the real broker and camera
# the tests use.
DEB_PACKAGES := ffmpeg mosquitto openssl systemd python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base \
	gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav \
	gstreamer1.0-tools

.PHONY: all deps install models build check typecheck lint format test bench bench-quality config-docs mqtt-docs gallery-docs run clean

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

install: node_modules/.installed

# Converts the packaged tfjs weights into models/*.onnx; deterministic, about 1 s.
models: install
	$(BIN)/tsx tools/convert-models.ts

build: install models
	$(BIN)/tsc -p tsconfig.build.json

typecheck: install
	$(BIN)/tsc --noEmit

lint: install
	$(BIN)/eslint .

format: install
	$(BIN)/prettier --write .

check: typecheck lint
	$(BIN)/prettier --check .

test: deps install models
	$(BIN)/vitest run

bench: deps install models
	node --expose-gc --import tsx bench/run.ts

# How accuracy falls as lfw-dev faces are shrunk or blurred: the basis of the quality gates (minutes).
bench-quality: install models
	$(BIN)/tsx bench/quality-sweep.ts

# config/default.json and docs/configuration.md, generated from the schema in src/config.
config-docs: install
	$(BIN)/tsx tools/config-docs.ts

# docs/mqtt.md, generated from the payload schemas in src/events/topics.ts.
mqtt-docs: install
	$(BIN)/tsx tools/mqtt-docs.ts

# docs/gallery.md, generated from the manifest schema in src/gallery/manifest.ts.
gallery-docs: install
	$(BIN)/tsx tools/gallery-docs.ts

# The daemon on its defaults: with no camera configured it plays a demo clip made from the
# sample photos of @vladmandic/face-api and logs match and unknown events (Ctrl-C stops it).
run: deps build
	node dist/src/cli/bin.js run

clean:
	rm -rf dist coverage models/*.onnx
