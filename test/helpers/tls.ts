// A throwaway certificate authority for TLS tests: a CA, a server certificate for 127.0.0.1 and
// localhost signed by it, and a second CA that signed nothing ("wrong CA").
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function makeTestCa(dir: string): { ca: string; cert: string; key: string; otherCa: string } {
  const ssl = (args: string) => execFileSync('openssl', args.split(' '), { cwd: dir, stdio: 'ignore' });
  const selfSigned = (cn: string, name: string) =>
    ssl(`req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=${cn} -keyout ${name}.key -out ${name}.crt`);
  selfSigned('facegate-test-ca', 'ca');
  selfSigned('other-ca', 'other');
  ssl('req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr');
  writeFileSync(
    join(dir, 'ext.cnf'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
  );
  ssl(
    'x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf -out server.crt',
  );
  return {
    ca: join(dir, 'ca.crt'),
    cert: join(dir, 'server.crt'),
    key: join(dir, 'server.key'),
    otherCa: join(dir, 'other.crt'),
  };
}
