/**
 * Configuration endpoints: item and agent config.xml, the root `/config.xml`, `/computer`, `/pluginManager` and the
 * configuration-as-code plugin's `/configuration-as-code` (README: one section per endpoint, with its sources).
 */
import { cascExport, cascReload } from './casc';
import { agentConfigXml, folderConfigXml, jobConfigXml, primaryViewXml } from './configxml';
import { api, can, deny, isApiJson, notFound, page, redirect, type Ctx } from './context';
import { bean, type Bean } from './export';
import { escapeHtml, sendEmpty, sendJettyError, sendRequirePost, sendText } from './pages';
import { pluginBean, pluginManagerBean } from './plugins';
import type { AgentNode, Item } from './state';

const BUILT_IN = '(built-in)';

/**
 * A config.xml handler's answer to the write methods: POST needs Configure; the update itself (updateByXml) is not
 * emulated. Anything but GET and POST is a bare 400 (`rsp.sendError(SC_BAD_REQUEST)`).
 */
function notReadMethod(ctx: Ctx, configure: 'Job/Configure' | 'Agent/Configure', item?: Item): void {
  if (ctx.method !== 'POST') return sendJettyError(ctx.req, ctx.res, 400);
  if (!can(ctx, configure, item)) return deny(ctx, configure);
  sendJettyError(ctx.req, ctx.res, 501, 'config.xml updates are not emulated');
}

/**
 * AbstractItem.doConfigDotXml / writeConfigDotXml: GET needs ExtendedRead; with Configure the document as XStream
 * writes it, without it every value that decrypts as a Secret becomes `********` (ExtendedReadSecretRedaction).
 * `Content-Type: application/xml` (no charset: the bytes go to the output stream), no X-Jenkins headers.
 */
export function itemConfigXml(ctx: Ctx, item: Item): void {
  if (ctx.method !== 'GET') return notReadMethod(ctx, 'Job/Configure', item);
  if (!can(ctx, 'Job/ExtendedRead', item)) return deny(ctx, 'Job/ExtendedRead');
  const xml = item.kind === 'job' ? jobConfigXml(ctx.state, item) : folderConfigXml(ctx.state, item);
  sendText(
    ctx.res,
    200,
    'application/xml',
    can(ctx, 'Job/Configure', item) ? xml : ctx.state.secrets.redact(xml),
  );
}

/**
 * `/config.xml` at the root: Jenkins has no config.xml web method, so Stapler falls back to the primary view
 * (StaplerFallback) and View.doConfigDotXml serves the view's XML (View/Read). The global configuration
 * (JENKINS_HOME/config.xml) is not served over HTTP.
 */
export function primaryViewConfigXml(ctx: Ctx): void {
  if (ctx.method === 'GET') {
    if (!can(ctx, 'View/Read')) return deny(ctx, 'View/Read');
    return sendText(ctx.res, 200, 'application/xml', primaryViewXml());
  }
  if (ctx.method === 'POST')
    return sendJettyError(ctx.req, ctx.res, 501, 'view config.xml updates are not emulated');
  sendJettyError(ctx.req, ctx.res, 400, `Unexpected request method ${ctx.method}`);
}

// --- /computer ---------------------------------------------------------------------------------------------------

function computerBean(node: AgentNode | undefined): Bean {
  const labels = node ? node.labels.split(/\s+/).filter(Boolean) : [];
  return bean(node ? 'hudson.slaves.SlaveComputer' : 'hudson.model.Hudson$MasterComputer', {
    // Label.getName is @Exported(visibility = 2): label names show at the default depth.
    assignedLabels: [...labels, node ? node.name : 'built-in'].map((name) =>
      bean(undefined, { name: { v: name, vis: 2 } }),
    ),
    description: node ? node.description : "the Jenkins controller's built-in node",
    displayName: node ? node.name : 'Built-In Node',
    idle: true,
    numExecutors: node ? node.numExecutors : 2,
    offline: node?.offline ?? false,
    temporarilyOffline: false,
  });
}

/** ComputerSet (`/computer/api/json`: `computer` is exported inline) and Computer (`/computer/NAME/…`). */
export function routeComputers(ctx: Ctx, rest: string[]): void {
  const nodes = [...ctx.state.nodes.values()];
  if (rest.length === 0) return page(ctx, 'Nodes');
  if (isApiJson(rest))
    return api(
      ctx,
      bean('hudson.model.ComputerSet', {
        busyExecutors: 0,
        computer: {
          v: [computerBean(undefined), ...nodes.map((n) => computerBean(n))],
          vis: 1,
          inline: true,
        },
        displayName: 'Nodes',
        totalExecutors: 2 + nodes.reduce((sum, n) => sum + n.numExecutors, 0),
      }),
    );
  const name = rest[0] ?? '';
  const node = ctx.state.nodes.get(name);
  if (name !== BUILT_IN && !node) return notFound(ctx);
  const r = rest.slice(1);
  if (r.length === 0) return page(ctx, node ? node.name : 'Built-In Node');
  if (isApiJson(r)) return api(ctx, computerBean(node));
  if (r.length === 1 && r[0] === 'config.xml') {
    // Jenkins.MasterComputer.doConfigDotXml: HttpResponses.status(400) for every method, no body.
    if (!node) return sendEmpty(ctx.res, 400);
    // Computer.doConfigDotXml: checkPermission(EXTENDED_READ) first, then the node's XML (redacted without Configure).
    if (ctx.method !== 'GET') return notReadMethod(ctx, 'Agent/Configure');
    if (!can(ctx, 'Agent/ExtendedRead')) return deny(ctx, 'Agent/ExtendedRead');
    const xml = agentConfigXml(node);
    return sendText(
      ctx.res,
      200,
      'application/xml',
      can(ctx, 'Agent/Configure') ? xml : ctx.state.secrets.redact(xml),
    );
  }
  notFound(ctx);
}

// --- /pluginManager ----------------------------------------------------------------------------------------------

/** PluginManager.getTarget checks Overall/SystemRead (Administer while SystemRead is disabled) for everything below. */
export function routePluginManager(ctx: Ctx, rest: string[]): void {
  if (!can(ctx, 'Overall/SystemRead')) return deny(ctx, 'Overall/SystemRead');
  if (rest.length === 0) return page(ctx, 'Plugins');
  if (isApiJson(rest)) return api(ctx, pluginManagerBean(ctx.state.plugins.values()));
  if (rest[0] === 'plugin' && rest[1] !== undefined) {
    const plugin = ctx.state.plugins.get(rest[1]);
    if (!plugin) return notFound(ctx);
    if (isApiJson(rest.slice(2))) return api(ctx, pluginBean(plugin));
  }
  notFound(ctx);
}

// --- /configuration-as-code --------------------------------------------------------------------------------------

/**
 * The configuration-as-code plugin's ManagementLink (reached at `/configuration-as-code/` and under `/manage/`),
 * present only while the plugin is active. Its actions are @RequirePOST (405 otherwise) and check the permission
 * inside with `hasPermission`, answering a bare `sendError(403)`: export and viewExport need Overall/SystemRead
 * (configuration-as-code ≥ 1.36; Administer while SystemRead is disabled), reload Overall/Administer here.
 */
export function routeCasc(ctx: Ctx, rest: string[]): void {
  const { state } = ctx;
  if (!state.hasPlugin('configuration-as-code')) return notFound(ctx);
  const action = rest[0];
  if (rest.length === 0) {
    if (!can(ctx, 'Overall/SystemRead')) return deny(ctx, 'Overall/SystemRead');
    const sources = state.casc.sources.map((s) => `<li>${escapeHtml(s)}</li>`).join('');
    return page(
      ctx,
      'Configuration as Code',
      `<h1>Configuration as Code</h1>\n<p>Configuration loaded from:</p>\n<ul id="sources">${sources}</ul>`,
    );
  }
  if (rest.length !== 1 || (action !== 'export' && action !== 'viewExport' && action !== 'reload'))
    return notFound(ctx);
  if (ctx.method !== 'POST') return sendRequirePost(ctx.res, state);
  if (action === 'reload') {
    if (!can(ctx, 'Overall/Administer')) return sendJettyError(ctx.req, ctx.res, 403);
    cascReload(state);
    return redirect(ctx, 302, './');
  }
  if (!can(ctx, 'Overall/SystemRead')) return sendJettyError(ctx.req, ctx.res, 403);
  const yaml = cascExport(state);
  if (action === 'viewExport')
    return page(
      ctx,
      'Export configuration',
      `<h1>Export configuration</h1>\n<pre id="export">${escapeHtml(yaml)}</pre>`,
    );
  ctx.res.setHeader('Content-Disposition', 'attachment; filename=jenkins.yaml');
  sendText(ctx.res, 200, 'application/x-yaml; charset=utf-8', yaml);
}
