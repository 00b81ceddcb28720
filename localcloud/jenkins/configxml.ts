/**
 * The config.xml documents Jenkins serves for items and agents, generated from the emulator's state the way XStream
 * writes the live objects (README: Job and folder config.xml). Secret fields are written encrypted (`{AQAAAB…}`);
 * plain strings, environment variables included, are written as they are.
 */
import { pluginOfClass, type Credential } from './credentials';
import { pluginAttr } from './plugins';
import { envVarsEntries, envVarsNodeProperty, opt, toXmlDocument, x, type XNode } from './xstream';
import { parametersOf, type AgentNode, type Folder, type JenkinsState, type Job } from './state';

/** A credential as it sits in a store's XML: the class with its plugin, its fields, every Secret encrypted. */
export function credentialNode(state: JenkinsState, c: Credential): XNode {
  const shortName = pluginOfClass(c.cls);
  const fields = c.cls.fields.flatMap((f): XNode[] => {
    const v = c.values[f.name];
    if (v === undefined) return [];
    return [x(f.name, f.type === 'secret' ? state.secrets.encrypt(String(v)) : String(v))];
  });
  return x(c.cls.element, fields, pluginAttr(state.plugins, shortName));
}

/** FolderCredentialsProvider.FolderCredentialsProperty: the folder's store, domain by domain. */
function folderCredentialsProperty(state: JenkinsState, folder: Folder): XNode[] {
  const domains = [...folder.store.domains.entries()];
  if (domains.every(([name, d]) => name === '_' && d.credentials.length === 0)) return [];
  const credentialsPlugin = pluginAttr(state.plugins, 'credentials');
  return [
    x('com.cloudbees.hudson.plugins.folder.properties.FolderCredentialsProvider_-FolderCredentialsProperty', [
      x(
        'domainCredentialsMap',
        domains.map(([urlName, d]) =>
          x('entry', [
            x(
              'com.cloudbees.plugins.credentials.domains.Domain',
              [
                ...(urlName === '_'
                  ? []
                  : [...opt('name', d.name ?? urlName), ...opt('description', d.description)]),
                x('specifications'),
              ],
              credentialsPlugin,
            ),
            x(
              'java.util.concurrent.CopyOnWriteArrayList',
              d.credentials.map((c) => credentialNode(state, c)),
            ),
          ]),
        ),
        { class: 'hudson.util.CopyOnWriteMap$Hash' },
      ),
    ]),
  ];
}

/** The folder-properties plugin's FolderProperties (folder environment variables), in the order they were given. */
function folderProperties(state: JenkinsState, env: Readonly<Record<string, string>>): XNode[] {
  const entries = Object.entries(env);
  if (entries.length === 0) return [];
  return [
    x(
      'com.mig82.folders.properties.FolderProperties',
      [
        x(
          'properties',
          entries.map(([k, v]) =>
            x('com.mig82.folders.properties.StringProperty', [x('key', k), x('value', v)]),
          ),
        ),
      ],
      pluginAttr(state.plugins, 'folder-properties'),
    ),
  ];
}

const allView = (owner?: { cls: string; reference: string }): XNode =>
  x('hudson.model.AllView', [
    ...(owner ? [x('owner', undefined, { class: owner.cls, reference: owner.reference })] : []),
    x('name', owner ? 'All' : 'all'),
    x('filterExecutors', 'false'),
    x('filterQueue', 'false'),
    x('properties', undefined, { class: 'hudson.model.View$PropertyList' }),
  ]);

export function folderConfigXml(state: JenkinsState, folder: Folder): string {
  if (folder.spec.configXml !== undefined) return folder.spec.configXml;
  const cls = 'com.cloudbees.hudson.plugins.folder.Folder';
  return toXmlDocument(
    x(
      cls,
      [
        x('actions'),
        x('description', folder.spec.description ?? ''),
        x('properties', [
          ...folderCredentialsProperty(state, folder),
          ...folderProperties(state, folder.spec.env ?? {}),
        ]),
        x(
          'folderViews',
          [
            x('views', [allView({ cls, reference: '../../../..' })]),
            x('tabBar', undefined, { class: 'hudson.views.DefaultViewsTabBar' }),
          ],
          { class: 'com.cloudbees.hudson.plugins.folder.views.DefaultFolderViewHolder' },
        ),
        x('healthMetrics'),
        x('icon', undefined, { class: 'com.cloudbees.hudson.plugins.folder.icons.StockFolderIcon' }),
      ],
      pluginAttr(state.plugins, 'cloudbees-folder'),
    ),
  );
}

/** Job properties: parameter definitions (password defaults are Secrets) and the EnvInject job property. */
function jobProperties(state: JenkinsState, job: Job): XNode[] {
  const params = parametersOf(job.spec);
  const properties: XNode[] = [];
  if (params.length)
    properties.push(
      x('hudson.model.ParametersDefinitionProperty', [
        x(
          'parameterDefinitions',
          params.map((p) =>
            p.password
              ? x('hudson.model.PasswordParameterDefinition', [
                  x('name', p.name),
                  x('description', p.description),
                  x('defaultValue', state.secrets.encrypt(p.default)),
                ])
              : x('hudson.model.StringParameterDefinition', [
                  x('name', p.name),
                  x('description', p.description),
                  x('defaultValue', p.default),
                  x('trim', 'false'),
                ]),
          ),
        ),
      ]),
    );
  const env = Object.entries(job.spec.env ?? {});
  if (env.length)
    properties.push(
      x(
        'EnvInjectJobProperty',
        [
          x('info', [
            // EnvInject keeps the text as typed: KEY=value lines (java.util.Properties syntax).
            x('propertiesContent', env.map(([k, v]) => `${k}=${v}`).join('\n')),
            x(
              'secureGroovyScript',
              [x('script', ''), x('sandbox', 'false')],
              pluginAttr(state.plugins, 'script-security'),
            ),
            x('loadFilesFromMaster', 'false'),
          ]),
          x('on', 'true'),
          x('keepJenkinsSystemVariables', 'true'),
          x('keepBuildVariables', 'true'),
          x('overrideBuildParameters', 'false'),
        ],
        pluginAttr(state.plugins, 'envinject'),
      ),
    );
  return properties;
}

function freestyleConfig(state: JenkinsState, job: Job): XNode {
  const passwords = Object.entries(job.spec.passwords ?? {});
  return x('project', [
    x('actions'),
    x('description', job.spec.description ?? ''),
    x('keepDependencies', 'false'),
    x('properties', jobProperties(state, job)),
    x('scm', undefined, { class: 'hudson.scm.NullSCM' }),
    x('canRoam', 'true'),
    x('disabled', String(job.spec.disabled ?? false)),
    x('blockBuildWhenDownstreamBuilding', 'false'),
    x('blockBuildWhenUpstreamBuilding', 'false'),
    x('triggers'),
    x('concurrentBuild', 'false'),
    x(
      'builders',
      job.spec.shell === undefined
        ? []
        : [x('hudson.tasks.Shell', [x('command', job.spec.shell), x('configuredLocalRules')])],
    ),
    x('publishers'),
    x(
      'buildWrappers',
      passwords.length === 0
        ? []
        : [
            x(
              'EnvInjectPasswordWrapper',
              [
                x('injectGlobalPasswords', 'false'),
                x('maskPasswordParameters', 'true'),
                x(
                  'passwordEntries',
                  passwords.map(([name, value]) =>
                    x('EnvInjectPasswordEntry', [x('name', name), x('value', state.secrets.encrypt(value))]),
                  ),
                ),
              ],
              pluginAttr(state.plugins, 'envinject'),
            ),
          ],
    ),
  ]);
}

function pipelineConfig(state: JenkinsState, job: Job): XNode {
  return x(
    'flow-definition',
    [
      x('actions'),
      x('description', job.spec.description ?? ''),
      x('keepDependencies', 'false'),
      x('properties', jobProperties(state, job)),
      x('definition', [x('script', job.spec.script ?? ''), x('sandbox', 'true')], {
        class: 'org.jenkinsci.plugins.workflow.cps.CpsFlowDefinition',
        ...pluginAttr(state.plugins, 'workflow-cps'),
      }),
      x('triggers'),
      x('disabled', String(job.spec.disabled ?? false)),
    ],
    pluginAttr(state.plugins, 'workflow-job'),
  );
}

export function jobConfigXml(state: JenkinsState, job: Job): string {
  if (job.spec.configXml !== undefined) return job.spec.configXml;
  return toXmlDocument(
    job.spec.type === 'pipeline' ? pipelineConfig(state, job) : freestyleConfig(state, job),
  );
}

/** View.writeXml of the primary view, which is what `/config.xml` at the root serves (README). */
export const primaryViewXml = (): string => toXmlDocument(allView());

/** Jenkins.XSTREAM2.toXMLUTF8 of a DumbSlave (`slave`) with an inbound launcher. */
export function agentConfigXml(node: AgentNode): string {
  const env = envVarsEntries(node.env);
  return toXmlDocument(
    x('slave', [
      x('name', node.name),
      x('description', node.description),
      x('remoteFS', node.remoteFS),
      x('numExecutors', String(node.numExecutors)),
      x('mode', 'NORMAL'),
      x('retentionStrategy', undefined, { class: 'hudson.slaves.RetentionStrategy$Always' }),
      x(
        'launcher',
        [
          x('workDirSettings', [
            x('disabled', 'false'),
            x('internalDir', 'remoting'),
            x('failIfWorkDirIsMissing', 'false'),
          ]),
          x('webSocket', 'false'),
        ],
        { class: 'hudson.slaves.JNLPLauncher' },
      ),
      x('label', node.labels),
      x('nodeProperties', env.length ? [envVarsNodeProperty(node.env)] : []),
    ]),
  );
}
