// Shared shapes for signal modules.
import type { Brand } from '../domains.ts';
import type { ParsedMessage } from '../parse.ts';
import type { AuthSummary, WorkspaceConfig } from '../types.ts';

export interface Hit {
  /** Signal id; `ws.*` ids are workspace-specific and carry fixed weights (not learned). */
  id: string;
  detail: string;
  /** Feature value fed to the model, 0..1 (default 1). */
  value?: number;
}

export interface SignalContext {
  msg: ParsedMessage;
  auth: AuthSummary;
  workspace: WorkspaceConfig;
  /** Bundled brands plus the workspace's own brands. */
  brands: Brand[];
  fromDomain: string;
}
