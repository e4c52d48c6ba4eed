// The Amazon SES SMTP password of an IAM secret access key, for one region, as the SES developer
// guide ("Obtaining Amazon SES SMTP credentials") documents it: a SigV4-style HMAC-SHA256 chain
// over a fixed date, the region, "ses", "aws4_request" and "SendRawEmail", prefixed with the
// version byte 0x04 and base64-encoded. The SMTP user name is the access key id.
import { createHmac } from 'node:crypto';

const DATE = '11111111';
const SERVICE = 'ses';
const TERMINAL = 'aws4_request';
const MESSAGE = 'SendRawEmail';
const VERSION = 0x04;

const hmac = (key: Buffer | string, message: string) =>
  createHmac('sha256', key).update(message, 'utf8').digest();

export function sesSmtpPassword(secretAccessKey: string, region: string): string {
  let signature = hmac(Buffer.from(`AWS4${secretAccessKey}`, 'utf8'), DATE);
  for (const part of [region, SERVICE, TERMINAL, MESSAGE]) signature = hmac(signature, part);
  return Buffer.concat([Buffer.from([VERSION]), signature]).toString('base64');
}
