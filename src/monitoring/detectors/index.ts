// Every detector, in one list (the settings page and docs follow this order).
import { accessDetectors } from './access.ts';
import { authDetectors } from './auth.ts';
import { dataDetectors } from './data.ts';
import { signinDetectors } from './signin.ts';
import { transferDetectors } from './transfer.ts';
import type { DetectorDef } from './types.ts';

export const detectors: DetectorDef[] = [...authDetectors, ...signinDetectors, ...dataDetectors, ...transferDetectors, ...accessDetectors];
export const detectorById = new Map(detectors.map((d) => [d.id, d]));
