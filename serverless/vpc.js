/**
 * A local Serverless Framework plugin: with the stage parameters `vpcSubnetIds` and `vpcSecurityGroupIds` (read
 * through serverless.yml's `custom.vpc`), every function runs in those subnets with those security groups and each
 * function's role gains the network-interface permissions Lambda needs in a VPC. With both empty it does nothing,
 * so the template stays the one without a VPC. The logic is TypeScript (serverless/vpc-config.ts), loaded through tsx.
 */
import { tsImport } from 'tsx/esm/api';

export default class RotatorVpc {
  /**
   * @param {any} serverless the Serverless instance
   * @param {Record<string, unknown>} _options CLI options
   * @param {{ log: { warning(text: string): void } }} utils the plugin utilities (v3)
   */
  constructor(serverless, _options, { log }) {
    this.serverless = serverless;
    this.log = log;
    this.hooks = {
      // Before any command's own lifecycle: `package`, `deploy`, and `deploy function` (which updates VpcConfig
      // from provider.vpc) all see the same functions.
      initialize: () => this.apply(),
    };
  }

  async apply() {
    /** @type {typeof import('./vpc-config.ts')} */
    const { applyVpc, vpcConfigOf, vpcWarnings, VpcParameterError } = await tsImport(
      './vpc-config.ts',
      import.meta.url,
    );
    const service = this.serverless.service;
    try {
      const vpc = vpcConfigOf(service.custom?.vpc ?? {});
      if (vpc === undefined) return;
      for (const warning of vpcWarnings(vpc)) this.log.warning(warning);
      applyVpc(service, vpc);
    } catch (error) {
      if (error instanceof VpcParameterError)
        throw new this.serverless.classes.Error(error.message, 'KEY_ROTATOR_VPC');
      throw error;
    }
  }
}
