import { type Agent, request } from 'node:http';

export interface RawRequest {
  port: number;
  token: string;
  method?: string;
  path: string;
  body?: string;
  agent?: Agent;
}

/** One request to a LoRA Lab server on 127.0.0.1 with the token, body as sent, answer as text. */
export function httpText({ port, token, method = 'POST', path, body, agent }: RawRequest): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method, ...(agent ? { agent } : {}), headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}`, Host: `127.0.0.1:${port}` } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
