// The delivery module's keys, all derived from the master key (HKDF, one
// purpose each), so no extra secret needs to be configured or rotated apart.
import { deriveKey } from '../crypto/aead.ts';
import type { TransactionalKeys } from './transactional.ts';

export function deliveryKeys(masterKey: Buffer): TransactionalKeys {
  return {
    dkimKey: deriveKey(masterKey, 'dkim-keys'),
    trackingKey: deriveKey(masterKey, 'tracking-tokens'),
    verpKey: deriveKey(masterKey, 'verp'),
    messageIdKey: deriveKey(masterKey, 'message-ids'),
    sealKey: deriveKey(masterKey, 'transactional-messages'),
  };
}
