export { fittingMode, type Mode, type ModeAdvice, type NetworkFacts, type Where } from './advice';
export {
  doctorKeys,
  DoctorInputError,
  runDoctor,
  type CheckName,
  type CheckStatus,
  type DoctorCheck,
  type DoctorOptions,
  type DoctorReport,
  type DoctorTarget,
} from './doctor';
export { formatDoctor, formatTarget, modeText, reachabilityLine } from './format';
export { addressScope, privateName, resolveHost, connectTcp, type AddressScope } from './network';
