// Composition root: open the database, migrate, start jobs and the HTTP server.
// `serve` runs everything in one process; `worker` runs only the job workers.
import type PgBoss from 'pg-boss';
import { adminRoutes } from './auth/admin-routes.ts';
import { authRoutes } from './auth/routes.ts';
import { auditRoutes } from './audit/routes.ts';
import type { Config } from './config/index.ts';
import type { Logger } from './config/logger.ts';
import { deriveKey } from './crypto/aead.ts';
import { resealUnderMaster } from './crypto/master-reseal.ts';
import { campaignRoutes } from './campaigns/routes.ts';
import { configureContactJobs, resumeRotationJobs, rotationJob } from './contacts/jobs.ts';
import { contactRoutes } from './contacts/routes.ts';
import { keyProviderFromConfig, Vault } from './contacts/vault.ts';
import { type Database, openDatabase } from './db/client.ts';
import { outboxKey, sealLegacyOutbox, setOutboxRetention } from './delivery/outbox.ts';
import { type InboundListener, startInboundListener } from './delivery/inbound.ts';
import { startDeliveryEngine } from './delivery/engine.ts';
import { deliveryKeys } from './delivery/keys.ts';
import { messageRoutes } from './delivery/messages-routes.ts';
import { deliveryRoutes } from './delivery/routes.ts';
import { relayRoutes } from './delivery/relay-routes.ts';
import { workspaceTransport } from './delivery/relays.ts';
import { publicDeliveryRoutes } from './delivery/public-routes.ts';
import { type ReportContext, reportHandler, reportSweepJob, startReportProcessing } from './delivery/reports.ts';
import { statsRoutes } from './delivery/stats-routes.ts';
import { migrate } from './db/migrate.ts';
import { buildServer, type RoutesPlugin, type ServerDeps } from './http/server.ts';
import { createBoss, type JobDefinition, startJobs } from './jobs/boss.ts';
import { webhookJob } from './monitoring/notify.ts';
import { attachMonitoringJobs } from './monitoring/registry.ts';
import { monitoringRoutes } from './monitoring/routes.ts';
import { phishingRoutes } from './phishing/routes.ts';
import { configurePhishingRuntime, phishingQueueRoutes } from './phishing/queue-routes.ts';
import { startPhishingListeners } from './phishing/smtp.ts';
import { segmentRoutes } from './segments/routes.ts';
import { settingsRoutes } from './settings/routes.ts';
import { templateRoutes } from './templates/routes.ts';

/** Every domain's routes, in one list: a new domain adds itself here. */
export const domainRoutes: RoutesPlugin[] = [authRoutes, adminRoutes, auditRoutes, settingsRoutes, contactRoutes, phishingRoutes, phishingQueueRoutes, monitoringRoutes, deliveryRoutes, relayRoutes, messageRoutes, publicDeliveryRoutes, statsRoutes, segmentRoutes, templateRoutes, campaignRoutes];

/** Every domain's background jobs (run by `serve` and by `worker`). */
export const jobDefinitions: JobDefinition[] = [rotationJob, webhookJob, reportSweepJob];

export function serverDeps(config: Config, database: Database, logger: Logger): ServerDeps {
  return {
    config,
    database,
    logger,
    totpKey: deriveKey(config.masterKey, 'totp-secrets'),
    dkimKey: deriveKey(config.masterKey, 'dkim-keys'),
    relayKey: deriveKey(config.masterKey, 'smtp-relays'),
    outboxKey: outboxKey(config.masterKey),
    vault: new Vault(database.db, keyProviderFromConfig(config)),
    delivery: { keys: deliveryKeys(config.masterKey), bounceDomain: config.bounceDomain ?? 'bounce.localhost' },
  };
}

/** The delivery engine of this process (src/delivery/engine.ts): the workspace's relays, else SMTP_URL, else the outbox (relays.ts). */
function startEngine(config: Config, deps: ServerDeps, logger: Logger) {
  const d = config.delivery;
  const transport = workspaceTransport(deps.database.db, config.masterKey, config.smtpUrl, { maxConnections: d?.concurrency, logger });
  const engine = startDeliveryEngine({
    db: deps.database.db,
    vault: deps.vault,
    transport,
    keys: deliveryKeys(config.masterKey),
    publicUrl: config.publicUrl,
    bounceDomain: config.bounceDomain ?? 'bounce.localhost',
    logger,
    concurrency: d?.concurrency,
    batchSize: d?.batchSize,
    leaseSeconds: d?.leaseSeconds,
    retryDeadlineHours: d?.retryHours,
    limits: { relay: d?.relayLimits ?? [], domains: d?.domainLimits ?? {}, warmupDomains: d?.warmupDomains ?? [] },
  });
  logger.info({ worker: engine.worker, smtpUrl: !!config.smtpUrl }, 'delivery engine started');
  return {
    async stop() {
      await engine.stop();
      await transport.close();
    },
  };
}

export async function openAndMigrate(config: Config, logger: Logger): Promise<Database> {
  const database = await openDatabase(config.database);
  await migrate(database, (m) => logger.info(m));
  setOutboxRetention(config.delivery?.outboxRetentionDays ?? 14);
  // During a master-key rotation (MAILWARDEN_MASTER_KEY_PREVIOUS set), secrets sealed under the
  // old key's sub-keys (TOTP, DKIM, relay passwords) are re-sealed before anything reads them.
  if (config.masterKeyPrevious?.length) {
    const report = await resealUnderMaster(database.db, config.masterKey, config.masterKeyPrevious);
    logger.info({ resealed: report }, 'master-key rotation: secrets re-sealed under the current key');
  }
  const sealed = await sealLegacyOutbox(database.db, outboxKey(config.masterKey));
  if (sealed) logger.info({ sealed }, 'outbox: messages captured before encryption are now sealed');
  return database;
}

export type Running = { url: string; close: () => Promise<void> };

export async function serve(config: Config, logger: Logger): Promise<Running> {
  const database = await openAndMigrate(config, logger);
  const deps = serverDeps(config, database, logger);
  await openVault(deps.vault, database);
  const boss = createBoss(database, { url: config.database.kind === 'postgres' ? config.database.url : undefined, logger });
  await startJobs(boss, jobDefinitions, logger, database);
  attachMonitoringJobs(database, boss, logger);
  await resumeRotationJobs(boss, database.db);
  const reports = reportContext(config, database, deps.vault, logger);
  if (reports) await startReportProcessing(boss, reports);
  const { app } = await buildServer(deps, domainRoutes);
  const address = await app.listen({ port: config.port, host: config.host });
  const url = config.port === 0 ? address : config.publicUrl;
  // Phishing report mailbox and gateway; the mailbox comes back in `inboundRoutes` when it shares the bounce port.
  configurePhishingRuntime({ nextHop: config.phishing?.nextHop, hostname: config.phishing?.hostname ?? 'mailwarden' });
  // Report acknowledgements go out like any other mail: the workspace's relays, else SMTP_URL, else the outbox.
  const ackTransport = workspaceTransport(database.db, config.masterKey, config.smtpUrl, { logger });
  const phishing = await startPhishingListeners(config, database.db, ackTransport, logger);
  // Bounces and complaints (DSN/ARF): stored in inbound_reports; the delivery ledger applies them.
  let inbound: InboundListener | undefined;
  if (config.inboundSmtpPort && config.bounceDomain)
    inbound = await startInboundListener({ db: database.db, port: config.inboundSmtpPort, host: config.host, bounceDomain: config.bounceDomain, logger, onReport: reports && reportHandler(reports), alsoRoutes: phishing.inboundRoutes });
  const engine = config.delivery?.inServe === false ? null : startEngine(config, deps, logger);
  return {
    url,
    async close() {
      await engine?.stop();
      await inbound?.close();
      await phishing.close();
      await ackTransport.close();
      await app.close();
      await stopBoss(boss);
      await database.close();
    },
  };
}

export async function worker(config: Config, logger: Logger): Promise<Running> {
  const database = await openAndMigrate(config, logger);
  const deps = serverDeps(config, database, logger);
  await openVault(deps.vault, database);
  const boss = createBoss(database, { url: config.database.kind === 'postgres' ? config.database.url : undefined, logger });
  await startJobs(boss, jobDefinitions, logger, database);
  attachMonitoringJobs(database, boss, logger);
  await resumeRotationJobs(boss, database.db);
  const reports = reportContext(config, database, deps.vault, logger);
  if (reports) await startReportProcessing(boss, reports);
  const engine = startEngine(config, deps, logger);
  return {
    url: '',
    async close() {
      await engine.stop();
      await stopBoss(boss);
      await database.close();
    },
  };
}

/** Bounce/complaint processing needs the bounce domain (VERP addresses are checked against it). */
function reportContext(config: Config, database: Database, vault: Vault, logger: Logger): ReportContext | undefined {
  if (!config.bounceDomain) return undefined;
  return { db: database.db, keyring: () => vault.keyring(), masterKey: config.masterKey, bounceDomain: config.bounceDomain, logger };
}

/** Refuse to start with a clear message when the master key cannot open the data keys. */
async function openVault(vault: Vault, database: Database): Promise<void> {
  try {
    await vault.ready();
  } catch (err) {
    await database.close();
    throw err;
  }
  configureContactJobs(database.db, vault);
}

async function stopBoss(boss: PgBoss) {
  await boss.stop({ graceful: true, wait: true, timeout: 10_000 });
}
