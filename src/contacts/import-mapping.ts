// Contact-import column mapping: checks the mapping against the core fields and
// attribute definitions and turns it into a Plan (source column → target).
import {
  type AttributeDefinition,
  CORE_FIELDS,
  type CoreField,
  ImportConfigError,
  type ImportOptions,
} from './import-types.ts';

type Target = { kind: 'core'; field: CoreField } | { kind: 'attr'; def: AttributeDefinition };

export interface Plan {
  /** source column → target */
  columns: Map<string, Target>;
  requiredCore: Set<CoreField>;
  attributes: readonly AttributeDefinition[];
}

const CORE = new Set<string>(CORE_FIELDS);

export function buildPlan(options: ImportOptions): Plan {
  const defs = new Map<string, AttributeDefinition>();
  for (const def of options.attributes) {
    if (!def.key || CORE.has(def.key))
      throw new ImportConfigError(`invalid attribute key ${JSON.stringify(def.key)}`);
    if (defs.has(def.key)) throw new ImportConfigError(`attribute ${def.key} is defined twice`);
    if (!['text', 'number', 'date', 'boolean', 'enum'].includes(def.type)) {
      throw new ImportConfigError(`attribute ${def.key} has unknown type ${String(def.type)}`);
    }
    if (def.type === 'enum' && !def.options?.length) {
      throw new ImportConfigError(`enum attribute ${def.key} has no options`);
    }
    defs.set(def.key, def);
  }
  const columns = new Map<string, Target>();
  const targets = new Set<string>();
  for (const [column, target] of Object.entries(options.mapping)) {
    if (targets.has(target)) throw new ImportConfigError(`more than one column is mapped to ${target}`);
    targets.add(target);
    if (CORE.has(target)) columns.set(column, { kind: 'core', field: target as CoreField });
    else if (defs.has(target)) columns.set(column, { kind: 'attr', def: defs.get(target)! });
    else
      throw new ImportConfigError(
        `column ${JSON.stringify(column)} is mapped to unknown field ${JSON.stringify(target)}`,
      );
  }
  const requiredCore = new Set<CoreField>(options.requiredFields ?? ['email']);
  requiredCore.add('email'); // a contact is keyed by its email address
  for (const f of requiredCore) {
    if (!targets.has(f)) throw new ImportConfigError(`required field ${f} is not mapped to any column`);
  }
  for (const def of defs.values()) {
    if (def.required && !targets.has(def.key)) {
      throw new ImportConfigError(`required attribute ${def.key} is not mapped to any column`);
    }
  }
  return { columns, requiredCore, attributes: options.attributes };
}
