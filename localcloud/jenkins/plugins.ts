/**
 * The installed plugins: what `/pluginManager/api/json` lists (hudson.PluginWrapper's @Exported properties) and what
 * the `plugin="shortName@version"` attributes of config.xml documents name.
 */
import { bean, type Bean } from './export';

export interface PluginInfo {
  shortName: string;
  longName: string;
  version: string;
  /** Loaded in this session. */
  active: boolean;
  /** Will be loaded on the next start (no `.disabled` file). */
  enabled: boolean;
  requiredCoreVersion: string;
  dependencies: { shortName: string; version: string; optional: boolean }[];
}

type Known = Omit<PluginInfo, 'active' | 'enabled' | 'shortName'>;

const dep = (shortName: string, version: string, optional = false) => ({ shortName, version, optional });

/**
 * Plugins the emulator knows by name. Versions are realistic release strings of 2025–2026, not pinned to a Jenkins
 * release: what matters to a client is the shape (`shortName`, `version`, `active`, `enabled`, ...).
 */
export const KNOWN_PLUGINS: Readonly<Record<string, Known>> = {
  structs: {
    longName: 'Structs Plugin',
    version: '350.v3b_30f09f2363',
    requiredCoreVersion: '2.479.3',
    dependencies: [],
  },
  credentials: {
    longName: 'Credentials Plugin',
    version: '1502.v5c95e620ddfe',
    requiredCoreVersion: '2.479.3',
    dependencies: [
      dep('structs', '350.v3b_30f09f2363'),
      dep('configuration-as-code', '1971.vf9280461ea_89', true),
    ],
  },
  'plain-credentials': {
    longName: 'Plain Credentials Plugin',
    version: '195.vb_906e9073dee',
    requiredCoreVersion: '2.479.3',
    dependencies: [dep('credentials', '1502.v5c95e620ddfe')],
  },
  'aws-credentials': {
    longName: 'CloudBees AWS Credentials Plugin',
    version: '262.v0efb_28f71f94',
    requiredCoreVersion: '2.479.3',
    dependencies: [dep('credentials', '1502.v5c95e620ddfe')],
  },
  'cloudbees-folder': {
    longName: 'Folders Plugin',
    version: '6.1073.va_7888eb_dd514',
    requiredCoreVersion: '2.479.3',
    dependencies: [dep('credentials', '1502.v5c95e620ddfe', true)],
  },
  'workflow-job': {
    longName: 'Pipeline: Job',
    version: '1540.v295eccc9778f',
    requiredCoreVersion: '2.479.3',
    dependencies: [dep('workflow-api', '1373.v7b_813f10efa_b_')],
  },
  'workflow-api': {
    longName: 'Pipeline: API',
    version: '1373.v7b_813f10efa_b_',
    requiredCoreVersion: '2.479.3',
    dependencies: [],
  },
  'workflow-cps': {
    longName: 'Pipeline: Groovy',
    version: '4106.v7a_8a_8176d450',
    requiredCoreVersion: '2.479.3',
    dependencies: [
      dep('workflow-job', '1540.v295eccc9778f'),
      dep('script-security', '1373.vb_b_4a_a_c26fa_00'),
    ],
  },
  'script-security': {
    longName: 'Script Security Plugin',
    version: '1373.vb_b_4a_a_c26fa_00',
    requiredCoreVersion: '2.479.3',
    dependencies: [],
  },
  'configuration-as-code': {
    longName: 'Configuration as Code Plugin',
    version: '1971.vf9280461ea_89',
    requiredCoreVersion: '2.479.3',
    dependencies: [dep('structs', '350.v3b_30f09f2363')],
  },
  envinject: {
    longName: 'Environment Injector Plugin',
    version: '2.926.v69c9b_3896a_96',
    requiredCoreVersion: '2.479.3',
    dependencies: [dep('script-security', '1373.vb_b_4a_a_c26fa_00')],
  },
  'oidc-provider': {
    longName: 'OpenID Connect Provider',
    version: '170.v15f73e25a_e28',
    requiredCoreVersion: '2.516.3',
    dependencies: [
      dep('credentials', '1502.v5c95e620ddfe'),
      dep('plain-credentials', '195.vb_906e9073dee'),
      dep('jjwt-api', '0.11.5-120.v0268cf544b_89'),
      dep('workflow-api', '1373.v7b_813f10efa_b_'),
      dep('configuration-as-code', '1971.vf9280461ea_89', true),
    ],
  },
  'folder-properties': {
    longName: 'Folder Properties Plugin',
    version: '1.2.1',
    requiredCoreVersion: '2.479.3',
    dependencies: [dep('cloudbees-folder', '6.1073.va_7888eb_dd514')],
  },
};

/** What a fresh emulator has installed (the seed can add or change plugins). */
export const DEFAULT_PLUGINS = [
  'structs',
  'credentials',
  'plain-credentials',
  'aws-credentials',
  'cloudbees-folder',
  'workflow-api',
  'workflow-job',
  'workflow-cps',
  'script-security',
] as const;

export interface PluginSeed {
  shortName: string;
  version?: string | undefined;
  longName?: string | undefined;
  active?: boolean | undefined;
  enabled?: boolean | undefined;
}

/** A plugin from a seed: known plugins get their metadata, others a generic one. */
export function pluginOf(seed: PluginSeed): PluginInfo {
  const known = KNOWN_PLUGINS[seed.shortName];
  return {
    shortName: seed.shortName,
    longName: seed.longName ?? known?.longName ?? seed.shortName,
    version: seed.version ?? known?.version ?? '1.0',
    active: seed.active ?? true,
    enabled: seed.enabled ?? seed.active ?? true,
    requiredCoreVersion: known?.requiredCoreVersion ?? '2.479.3',
    dependencies: known?.dependencies ?? [],
  };
}

/** The `plugin` attribute XStream writes for a class of this plugin. */
export const pluginAttr = (
  plugins: ReadonlyMap<string, PluginInfo>,
  shortName: string,
): Record<string, string> => {
  const p = plugins.get(shortName);
  return { plugin: `${shortName}@${p?.version ?? KNOWN_PLUGINS[shortName]?.version ?? '1.0'}` };
};

/** hudson.LocalPluginManager with its `plugins` (PluginWrapper beans, no `_class`: the declared element type). */
export function pluginManagerBean(plugins: Iterable<PluginInfo>): Bean {
  return bean('hudson.LocalPluginManager', {
    plugins: [...plugins].sort((a, b) => a.shortName.localeCompare(b.shortName)).map((p) => pluginBean(p)),
  });
}

export function pluginBean(p: PluginInfo): Bean {
  return bean(undefined, {
    active: p.active,
    backupVersion: null,
    bundled: false,
    deleted: false,
    dependencies: p.dependencies.map((d) =>
      bean(undefined, { optional: d.optional, shortName: d.shortName, version: d.version }),
    ),
    detached: false,
    downgradable: false,
    enabled: p.enabled,
    hasUpdate: false,
    longName: p.longName,
    pinned: false,
    requiredCoreVersion: p.requiredCoreVersion,
    shortName: p.shortName,
    supportsDynamicLoad: 'MAYBE',
    url: `https://plugins.jenkins.io/${p.shortName}/`,
    version: p.version,
  });
}
