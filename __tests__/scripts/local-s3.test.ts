import { S3Client } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'crypto';
import { promises as fs } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Readable } from 'stream';
import { S3BackupStore } from '../../node-agent/backup';
import { AwsChunkedDecoder, LocalS3, s3Operation } from '../../scripts/local-s3';

const q = (s: string) => new URLSearchParams(s);

describe('local S3 endpoint for bench:restore: which call a request is', () => {
  test.each([
    ['PUT', '', { op: 'PutObject' }],
    ['POST', 'uploads', { op: 'CreateMultipartUpload' }],
    ['POST', 'uploads=&x-id=CreateMultipartUpload', { op: 'CreateMultipartUpload' }],
    ['PUT', 'partNumber=3&uploadId=u1&x-id=UploadPart', { op: 'UploadPart', uploadId: 'u1', partNumber: 3 }],
    ['POST', 'uploadId=u1', { op: 'CompleteMultipartUpload', uploadId: 'u1' }],
    ['DELETE', 'uploadId=u1', { op: 'AbortMultipartUpload', uploadId: 'u1' }],
  ])('%s ?%s is %p', (method, query, operation) => {
    expect(s3Operation(method, q(query))).toEqual(operation);
  });

  test.each([
    ['GET', ''],
    ['PUT', 'partNumber=0&uploadId=u1'],
    ['PUT', 'partNumber=10001&uploadId=u1'],
    ['PUT', 'partNumber=2'],
    ['DELETE', ''],
  ])('%s ?%s is not supported, with the reason', (method, query) => {
    expect(s3Operation(method, q(query))).toMatchObject({ op: 'unsupported', why: expect.any(String) });
  });
});

async function decode(pieces: (string | Buffer)[]): Promise<Buffer> {
  const out: Buffer[] = [];
  const decoder = Readable.from(pieces.map((p) => Buffer.from(p))).pipe(new AwsChunkedDecoder());
  for await (const chunk of decoder) out.push(chunk as Buffer);
  return Buffer.concat(out);
}

describe('aws-chunked bodies', () => {
  test('unsigned chunks with a trailing checksum, split anywhere', async () => {
    const body = '5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n';
    expect((await decode([body])).toString()).toBe('hello world');
    // Every split point gives the same bytes.
    for (let i = 1; i < body.length; i++) expect((await decode([body.slice(0, i), body.slice(i)])).toString()).toBe('hello world');
  });

  test('signed chunks (chunk-signature) and no trailer', async () => {
    expect((await decode(['a;chunk-signature=abc\r\n0123456789\r\n0;chunk-signature=def\r\n\r\n'])).toString()).toBe('0123456789');
  });

  test.each([
    ['zz\r\nhello\r\n', /is not a chunk header/],
    ['5\r\nhelloXX0\r\n\r\n', /not followed by CRLF/],
    ['5\r\nhel', /ended inside a data/],
  ])('%p is refused', async (body, message) => {
    await expect(decode([body])).rejects.toThrow(message);
  });
});

describe("the agent's S3BackupStore against the local endpoint", () => {
  let dir: string;
  let s3: LocalS3;
  beforeEach(async () => {
    dir = await fs.mkdtemp(join(tmpdir(), 'local-s3-test-'));
    s3 = new LocalS3(join(dir, 's3'));
    await s3.start();
  });
  afterEach(async () => {
    await s3.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  test.each([
    ['one PutObject below a part', 3 * 2 ** 20, 0, 1],
    ['three parts, the last short', 11 * 2 ** 20 + 7, 3, 0],
  ])('%s: the object is the file, byte for byte', async (_what, bytes, parts, puts) => {
    const client = new S3Client({ endpoint: s3.url, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
    const file = join(dir, 'in.db');
    const data = randomBytes(bytes);
    await fs.writeFile(file, data);
    await new S3BackupStore('bucket', client, 5 * 2 ** 20).upload('snapshots/x.db', file, { sha256: 'abc' });
    const back: Buffer[] = [];
    for await (const chunk of s3.objectStream('bucket', 'snapshots/x.db')) back.push(chunk as Buffer);
    expect(createHash('sha256').update(Buffer.concat(back)).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    expect(s3.stats.partsByKey.get('bucket/snapshots/x.db')).toBe(parts || undefined);
    expect(s3.stats.putObjects).toBe(puts);
    client.destroy();
  });
});
