// The embedded MQTT broker for a fresh machine: with no broker configured, facegate runs aedes on
// 127.0.0.1 (loopback only: it has no users or TLS) so `make run` shows events that
// `mosquitto_sub -h 127.0.0.1 -t 'facegate/#'` can watch. A site with a real broker configures
// mqtt.url and never starts this.
import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';

export class EmbeddedBroker {
  private constructor(
    private readonly broker: Aedes,
    private readonly server: Server,
    /** mqtt://host:port to connect to. */
    readonly url: string,
  ) {}

  /**
   * Listens on host:port (0: any free port). Fails with EADDRINUSE when another broker already
   * has the port; the caller decides what to do then.
   */
  static async start(host: string, port: number): Promise<EmbeddedBroker> {
    const broker = await Aedes.createBroker();
    const server = createServer(broker.handle);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve());
      });
    } catch (err) {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      throw err;
    }
    const actual = (server.address() as { port: number }).port;
    return new EmbeddedBroker(broker, server, `mqtt://${host.includes(':') ? `[${host}]` : host}:${actual}`);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.broker.close(() => resolve()));
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
