// facegate door FILE: the door controller (src/doors/controller.ts) as a service, one door per
// process, configured by its own JSON file (it may run on another box than facegate).
import { DoorController, loadDoorControllerConfig } from '../doors/controller.js';
import { FacegateError } from '../errors.js';
import { parseCommand, type CommandContext } from './args.js';

export const DOOR_USAGE = `Usage: facegate door FILE

Runs the door controller for one door (docs/doors.md): subscribes to facegate's access events
for it and opens the door for each granted one that is signed, fresh, not seen before (also
across restarts) and about this door, by running a command or publishing on an MQTT topic, then
closes it after openSeconds. Every message gets a JSON log line on stderr. FILE:

  {"door": "front",
   "mqtt": {"url": "mqtts://broker:8883", "prefix": "facegate/gateway-1", "username": "door",
            "passwordFile": "/etc/facegate/door-password", "caFile": "/etc/facegate/ca.pem"},
   "signingKeyFile": "/etc/facegate/signing.key",
   "stateDir": "/var/lib/facegate-door",
   "maxAgeSeconds": 30,
   "output": {"command": ["relay-ctl", "1", "on"], "closeCommand": ["relay-ctl", "1", "off"],
              "openSeconds": 5}}

or "output": {"topic": "relays/front/set", "openPayload": "ON", "closePayload": "OFF"}, or
"output": {"homeAssistant": {"url": "http://ha:8123", "tokenFile": "/etc/facegate/ha-token",
"openService": "lock.unlock", "closeService": "lock.lock", "entityId": "lock.front_door"}}. The
command gets FACEGATE_DOOR and FACEGATE_PERSON in its environment. "announce": {"remoteOpen":
true} makes the door a Home Assistant lock that also opens on UNLOCK (docs/doors.md). Exit 78 on
a bad FILE. SIGTERM or SIGINT stop it, closing the door if it is open.`;

export async function doorCommand(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommand(argv, {}, DOOR_USAGE);
  if (values.help) {
    ctx.io.out(DOOR_USAGE);
    return 0;
  }
  if (positionals.length !== 1)
    throw new FacegateError('USAGE', `door takes one FILE, got ${positionals.length}\n\n${DOOR_USAGE}`);
  const config = loadDoorControllerConfig(positionals[0]!);
  const log = (fields: Record<string, unknown>) =>
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...fields })}\n`);
  const controller = new DoorController(config, log);
  const stopped = new Promise<void>((resolve) => {
    const stop = () => void controller.stop().then(resolve);
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  await controller.start();
  await stopped;
  return 0;
}
