/**
 * A local S3-compatible HTTP endpoint for `npm run bench:restore`, just enough
 * for the agent's real upload (`S3BackupStore.upload`, `@aws-sdk/lib-storage`):
 * PutObject, CreateMultipartUpload, UploadPart, CompleteMultipartUpload and
 * AbortMultipartUpload, path-style, each part written to a file of its own.
 * It checks no signature or checksum and keeps no metadata: it
 * measures the client's path (reading, checksumming, signing, sending parts)
 * against loopback, not S3's network. Not for anything but the benchmark.
 */
import { randomUUID } from 'crypto';
import { createReadStream, createWriteStream, promises as fs } from 'fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'http';
import { AddressInfo } from 'net';
import { basename, join } from 'path';
import { Readable, Transform, TransformCallback } from 'stream';
import { pipeline } from 'stream/promises';

export type S3Operation =
  | { readonly op: 'PutObject' }
  | { readonly op: 'CreateMultipartUpload' }
  | { readonly op: 'UploadPart'; readonly uploadId: string; readonly partNumber: number }
  | { readonly op: 'CompleteMultipartUpload'; readonly uploadId: string }
  | { readonly op: 'AbortMultipartUpload'; readonly uploadId: string }
  | { readonly op: 'unsupported'; readonly why: string };

/** Which call a request is, from its method and query (path-style: /bucket/key). */
export function s3Operation(method: string, query: URLSearchParams): S3Operation {
  const uploadId = query.get('uploadId');
  const partNumber = query.get('partNumber');
  if (method === 'POST' && query.has('uploads')) return { op: 'CreateMultipartUpload' };
  if (method === 'PUT' && uploadId && partNumber) {
    const n = Number(partNumber);
    // S3 numbers parts 1 to 10,000.
    if (!Number.isInteger(n) || n < 1 || n > 10_000) return { op: 'unsupported', why: `part number ${partNumber} is not 1-10000` };
    return { op: 'UploadPart', uploadId, partNumber: n };
  }
  if (method === 'PUT' && !uploadId && !partNumber) return { op: 'PutObject' };
  if (method === 'POST' && uploadId) return { op: 'CompleteMultipartUpload', uploadId };
  if (method === 'DELETE' && uploadId) return { op: 'AbortMultipartUpload', uploadId };
  return { op: 'unsupported', why: `${method} with query "${query.toString()}"` };
}

/**
 * Decodes an `aws-chunked` body (what the SDK sends with a trailing checksum or
 * per-chunk signatures): `<hex size>[;chunk-signature=…]\r\n<bytes>\r\n`
 * repeated, a 0-size chunk, then trailer lines until an empty line. Passes the
 * bytes on and drops the framing; a malformed frame is an error.
 */
export class AwsChunkedDecoder extends Transform {
  private pending: Buffer = Buffer.alloc(0);
  /** Bytes of the current chunk still to pass on, then its closing CRLF. */
  private remaining = 0;
  private state: 'header' | 'data' | 'crlf' | 'trailer' | 'done' = 'header';

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    try {
      this.consume();
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    callback(this.state === 'done' || (this.state === 'trailer' && this.pending.length === 0) ? null : new Error(`aws-chunked body ended inside a ${this.state}`));
  }

  private consume(): void {
    for (;;) {
      if (this.state === 'data') {
        if (!this.pending.length) return;
        const take = Math.min(this.remaining, this.pending.length);
        this.push(this.pending.subarray(0, take));
        this.pending = this.pending.subarray(take);
        this.remaining -= take;
        if (this.remaining === 0) this.state = 'crlf';
        continue;
      }
      if (this.state === 'done') {
        this.pending = Buffer.alloc(0);
        return;
      }
      const eol = this.pending.indexOf('\r\n');
      if (eol < 0) {
        if (this.pending.length > 4096) throw new Error('aws-chunked: a header line longer than 4 KiB');
        return;
      }
      const line = this.pending.subarray(0, eol).toString('latin1');
      this.pending = this.pending.subarray(eol + 2);
      if (this.state === 'crlf') {
        if (line !== '') throw new Error('aws-chunked: chunk data not followed by CRLF');
        this.state = 'header';
      } else if (this.state === 'header') {
        const size = /^([0-9a-fA-F]+)(;.*)?$/.exec(line);
        if (!size) throw new Error(`aws-chunked: "${line.slice(0, 80)}" is not a chunk header`);
        this.remaining = parseInt(size[1], 16);
        this.state = this.remaining === 0 ? 'trailer' : 'data';
      } else if (line === '') this.state = 'done';
    }
  }
}

/** What the endpoint saw, for the benchmark's report. */
export interface LocalS3Stats {
  /** Parts of each completed multipart upload, by bucket/key. */
  readonly partsByKey: Map<string, number>;
  putObjects: number;
  /** The request headers of the first data request (PutObject or UploadPart), to say what the client sent. */
  firstDataHeaders?: Record<string, string | string[] | undefined>;
}

/**
 * The local endpoint: `url` for the S3 client's `endpoint`. Each part (or
 * PutObject body) is one file; completing an upload records the parts' order
 * without copying them (so the client waits for little more than S3 would make
 * it), and {@link objectStream} reads an object back as one stream.
 */
export class LocalS3 {
  readonly stats: LocalS3Stats = { partsByKey: new Map(), putObjects: 0 };
  private server?: Server;
  private readonly uploads = new Map<string, Map<number, string>>();
  private readonly objects = new Map<string, string[]>();
  private files = 0;

  constructor(private readonly dir: string) {}

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  /** The object's bytes, its parts one after the other; an error if there is no such object. */
  objectStream(bucket: string, key: string): Readable {
    const files = this.objects.get(`${bucket}/${key}`);
    if (!files) throw new Error(`local S3: no object ${bucket}/${key}`);
    return Readable.from(
      (async function* () {
        for (const file of files) for await (const chunk of createReadStream(file)) yield chunk as Buffer;
      })(),
    );
  }

  /** Deletes an object's files. */
  async remove(bucket: string, key: string): Promise<void> {
    for (const file of this.objects.get(`${bucket}/${key}`) ?? []) await fs.rm(file, { force: true });
    this.objects.delete(`${bucket}/${key}`);
  }

  async start(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error) => reply(res, 500, errorXml('InternalError', (error as Error).message)));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local');
    const [, bucket, ...rest] = url.pathname.split('/');
    const key = decodeURIComponent(rest.join('/'));
    const operation = s3Operation(req.method ?? '', url.searchParams);
    if (!bucket || !key) return reply(res, 400, errorXml('InvalidRequest', 'path-style /bucket/key expected'));
    const object = `${bucket}/${key}`;
    switch (operation.op) {
      case 'PutObject': {
        this.stats.firstDataHeaders ??= req.headers;
        const file = await this.receive(req);
        await this.remove(bucket, key);
        this.objects.set(object, [file]);
        this.stats.putObjects++;
        return reply(res, 200, '', { ETag: `"${basename(file)}"` });
      }
      case 'CreateMultipartUpload': {
        const uploadId = randomUUID();
        this.uploads.set(uploadId, new Map());
        return reply(res, 200, `<?xml version="1.0" encoding="UTF-8"?>\n<InitiateMultipartUploadResult><Bucket>${xml(bucket)}</Bucket><Key>${xml(key)}</Key><UploadId>${uploadId}</UploadId></InitiateMultipartUploadResult>`);
      }
      case 'UploadPart': {
        const parts = this.uploads.get(operation.uploadId);
        if (!parts) return reply(res, 404, errorXml('NoSuchUpload', operation.uploadId));
        this.stats.firstDataHeaders ??= req.headers;
        const file = await this.receive(req);
        const replaced = parts.get(operation.partNumber);
        if (replaced) await fs.rm(replaced, { force: true });
        parts.set(operation.partNumber, file);
        return reply(res, 200, '', { ETag: `"${basename(file)}"` });
      }
      case 'CompleteMultipartUpload': {
        const parts = this.uploads.get(operation.uploadId);
        if (!parts) return reply(res, 404, errorXml('NoSuchUpload', operation.uploadId));
        const listed = [...(await readBody(req)).matchAll(/<PartNumber>(\d+)<\/PartNumber>/g)].map((m) => Number(m[1]));
        const missing = listed.filter((n) => !parts.has(n));
        if (!listed.length || missing.length) return reply(res, 400, errorXml('InvalidPart', `parts ${missing.join(',') || 'none'} not uploaded`));
        await this.remove(bucket, key);
        this.objects.set(object, listed.map((n) => parts.get(n)!));
        for (const [n, file] of parts) if (!listed.includes(n)) await fs.rm(file, { force: true });
        this.uploads.delete(operation.uploadId);
        this.stats.partsByKey.set(object, listed.length);
        return reply(res, 200, `<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUploadResult><Bucket>${xml(bucket)}</Bucket><Key>${xml(key)}</Key><ETag>"${listed.length}-parts"</ETag></CompleteMultipartUploadResult>`);
      }
      case 'AbortMultipartUpload': {
        for (const file of this.uploads.get(operation.uploadId)?.values() ?? []) await fs.rm(file, { force: true });
        this.uploads.delete(operation.uploadId);
        return reply(res, 204, '');
      }
      default:
        return reply(res, 501, errorXml('NotImplemented', operation.why));
    }
  }

  /** Writes the request's body into a new file (decoding aws-chunked framing) and returns its path. */
  private async receive(req: IncomingMessage): Promise<string> {
    const file = join(this.dir, `data-${++this.files}`);
    const chunked = /aws-chunked/.test(String(req.headers['content-encoding'] ?? '')) || /^STREAMING-/.test(String(req.headers['x-amz-content-sha256'] ?? ''));
    await (chunked ? pipeline(req, new AwsChunkedDecoder(), createWriteStream(file)) : pipeline(req, createWriteStream(file)));
    return file;
  }
}

function reply(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function errorXml(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xml(message)}</Message></Error>`;
}
