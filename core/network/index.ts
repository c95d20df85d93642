// Rootless networking: `--network` and `-p` values, slirp4netns and pasta, and
// the hosts, resolv.conf and hostname files a container gets.
export { parsePublish, parsePublishList, describeMapping, type PortMapping, type PortProtocol } from './publish.js';
export {
  parseNetworkMode,
  availableBackends,
  defaultBackend,
  requireBackend,
  missingBackendError,
  hostHasDefaultRoute,
  type Backend,
  type NetworkMode,
  type AvailableBackend,
} from './mode.js';
export {
  hostsFile,
  hostnameFile,
  resolvConf,
  parseAddHost,
  parseResolvConf,
  hostAddresses,
  hostGatewayAddress,
  isLoopbackAddress,
  SLIRP4NETNS_CONTAINER_IP,
  SLIRP4NETNS_DNS,
  SLIRP4NETNS_GATEWAY,
  PASTA_DNS_FORWARDER,
  type HostsFileOptions,
  type ResolvConfOptions,
  type ResolvMode,
} from './files.js';
export { assignHostPorts } from './ports.js';
export {
  startNetwork,
  stopNetworkProcess,
  processStartTime,
  pastaArgs,
  pastaPortSpec,
  type StartNetworkOptions,
  type NetworkInfo,
  type NetworkProcess,
  type RunningNetwork,
} from './start.js';
