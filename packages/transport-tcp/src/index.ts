export { ClientConnection, type ClientConnectOptions, type RequestOptions } from './client-connection.js'
export {
  AbortError,
  ConnectionClosedError,
  FaultConfigError,
  FrameError,
  HandshakeRefusedError,
  ListenError,
  PortInUseError,
  TooManyPendingError,
  TransportError,
  TlsError,
  TransportTimeoutError,
  UnknownPeerError,
  type TlsErrorCode,
  type TransportErrorCode,
} from './errors.js'
export {
  FaultInjector,
  checkFaultConfig,
  classifyByType,
  noFaults,
  parseDropRate,
  type Classify,
  type FaultConfig,
  type FaultInjectorOptions,
} from './fault.js'
export { FrameDecoder, FrameEncoder, type FrameDecoderOptions, type FrameEncoderOptions } from './frame.js'
export type { Credentials, Hello, Refused, Role, Welcome } from './handshake.js'
export { checkCertificateHost, checkTlsMaterial, loadTlsFiles, readTlsFile, type DialTls, type ListenTls, type Pem, type TlsFiles, type TlsMaterial, type TlsNames } from './tls.js'
export {
  FRAME_HEADER_BYTES,
  checkTransportLimits,
  defaultTransportLimits,
  resolveTransportLimits,
  type TransportLimits,
} from './limits.js'
export { noopLogger, type Logger } from './logger.js'
export type { OutgoingMessage, TransportMessage } from './message.js'
export { PeerTransport, type PeerAddress, type PeerLinkState, type PeerTransportOptions } from './peer-transport.js'
export {
  TransportServer,
  listen,
  type ClientConnectionInfo,
  type ClientRequest,
  type ListenOptions,
  type Reply,
} from './server.js'
export type { TransportStats } from './stats.js'
