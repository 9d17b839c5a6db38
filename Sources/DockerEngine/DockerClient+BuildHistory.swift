import CurlTransport
import HTTP2Session

extension DockerClient {
    /// The gRPC method of BuildKit's control service that streams the build history.
    static let listenBuildHistoryPath = "/moby.buildkit.v1.Control/ListenBuildHistory"

    /// The finished builds in BuildKit's build history, as `docker buildx history ls` lists them.
    ///
    /// Docker 23 and later serve BuildKit's control service (gRPC) through the Engine API: `POST
    /// /grpc` with `Connection: Upgrade`, `Upgrade: h2c`, answered `101 Switching Protocols`, after
    /// which the same connection speaks HTTP/2 (the client sends the connection preface). The call
    /// is `ListenBuildHistory` with `EarlyExit`, so the stream ends after the stored records.
    /// Records of builds still running (STARTED events) are left out.
    ///
    /// A read-only client (`readOnly`) does not send it: the call itself only reads, but `/grpc`
    /// opens all of BuildKit's control service (prune and solve too), which a socket proxy for a
    /// read-only watchdog should not allow. It answers `.unavailable` then.
    ///
    /// Everything runs under one deadline (`timeout`, default `requestTimeout`): the connect, the
    /// upgrade's answer, each read; a BuildKit that accepts and never answers costs that and no more.
    ///
    /// - Parameters:
    ///   - maxRecords: at most this many records are read; the answer then says `truncated`.
    ///   - maxMessageBytes: a larger message (one record) ends the call as undecodable.
    /// - Returns: `.unavailable` when the engine has no history: no `/grpc` (404: Podman) or a
    ///   BuildKit without the method (gRPC UNIMPLEMENTED: Docker 20.10).
    public func buildHistory(timeout: Duration? = nil, maxRecords: Int = 10_000, maxMessageBytes: Int = 1 << 20) throws(DockerError)
        -> BuildHistoryAnswer
    {
        let endpointName = "grpc.build_history"
        if readOnly {
            return .unavailable("docker.read_only: the build history needs POST /grpc, which a read-only client does not send")
        }
        do {
            let answer = try fetchBuildHistory(timeout: timeout ?? requestTimeout, maxRecords: maxRecords, maxMessageBytes: maxMessageBytes)
            stats.record(endpoint: endpointName, error: nil)
            return answer
        } catch {
            stats.record(endpoint: endpointName, error: error)
            throw error
        }
    }

    private func fetchBuildHistory(timeout: Duration, maxRecords: Int, maxMessageBytes: Int) throws(DockerError) -> BuildHistoryAnswer {
        let deadline = ContinuousClock.now + timeout
        let connection: UpgradedConnection
        do {
            connection = try UpgradedConnection(
                endpoint: endpoint, tls: tls, target: "/grpc", protocolName: "h2c", connectTimeout: connectTimeout, deadline: deadline)
        } catch let refusal as UpgradedConnection.Refusal {
            if refusal.status == 404 { return .unavailable("the engine has no /grpc endpoint (404)") }
            throw .http(status: refusal.status, message: Self.errorMessage(refusal.body), path: "/grpc")
        } catch let error as TransportError {
            throw Self.mapped(error)
        } catch {
            throw .transfer("/grpc: \(error)")
        }

        var records: [BuildRecord] = []
        var truncated = false
        var messages = GRPCMessageReader(maxMessageBytes: maxMessageBytes)
        var decodeFailure: ProtobufError?
        let request = HTTP2Request(
            authority: "docker", path: Self.listenBuildHistoryPath,
            headers: [("content-type", "application/grpc"), ("te", "trailers"), ("user-agent", "docker-watchdog")],
            body: GRPCMessageReader.frame(BuildHistoryWire.request(earlyExit: true)))
        let response: HTTP2Response
        do throws(HTTP2Error) {
            response = try HTTP2ClientSession.exchange(
                over: ConnectionStream(connection), request: request, limits: HTTP2Limits(deadline: deadline, idleTimeout: timeout)
            ) { (piece) throws(HTTP2Error) -> Bool in
                let complete: [[UInt8]]
                do throws(GRPCMessageReader.Failure) {
                    complete = try messages.append(piece)
                } catch {
                    switch error {
                    case .tooLarge(let size): throw .tooLarge("a history message of \(size) bytes (limit \(maxMessageBytes))")
                    case .compressed: throw .protocolError("a compressed gRPC message, which was not asked for")
                    }
                }
                for message in complete {
                    let event: BuildHistoryEvent
                    do throws(ProtobufError) {
                        event = try BuildHistoryWire.event(message[...])
                    } catch {
                        decodeFailure = error
                        return false
                    }
                    guard event.kind == .complete, let record = event.record, record.completedAt != nil else { continue }
                    if records.count >= maxRecords {
                        truncated = true
                        return false
                    }
                    records.append(record)
                }
                return true
            }
        } catch {
            switch error {
            case .timedOut(let s): throw .timedOut("\(Self.listenBuildHistoryPath): \(s)")
            case .tooLarge(let s): throw .undecodable(path: Self.listenBuildHistoryPath, reason: s)
            case .connection(let s), .protocolError(let s): throw .transfer("\(Self.listenBuildHistoryPath): \(s)")
            }
        }
        if let decodeFailure { throw .undecodable(path: Self.listenBuildHistoryPath, reason: "\(decodeFailure)") }
        if truncated { return .records(records, truncated: true) }

        // grpc-status comes in the trailers, or in the headers of a trailers-only answer (errors).
        let grpcStatus = response.trailers["grpc-status"] ?? response.headers["grpc-status"]
        let grpcMessage = String((response.trailers["grpc-message"] ?? response.headers["grpc-message"] ?? "").prefix(300))
        switch grpcStatus {
        case "0":
            if messages.pendingBytes > 0 {
                throw .undecodable(path: Self.listenBuildHistoryPath, reason: "the stream ended inside a message")
            }
            return .records(records, truncated: false)
        case "12":
            return .unavailable("BuildKit has no ListenBuildHistory (gRPC UNIMPLEMENTED: \(grpcMessage))")
        case .some(let code):
            throw .http(status: response.status, message: "gRPC status \(code): \(grpcMessage)", path: Self.listenBuildHistoryPath)
        case nil:
            throw .transfer("\(Self.listenBuildHistoryPath): HTTP/2 status \(response.status) without a gRPC status")
        }
    }

    static func mapped(_ error: TransportError) -> DockerError {
        switch error {
        case .unreachable(let s): return .unreachable(s)
        case .timedOut(let s): return .timedOut(s)
        case .bodyTooLarge, .cancelled, .transfer: return .transfer("\(error)")
        }
    }
}

/// The upgraded Engine API connection as the byte stream an HTTP/2 session runs over.
private final class ConnectionStream: HTTP2ByteStream {
    let connection: UpgradedConnection

    init(_ connection: UpgradedConnection) { self.connection = connection }

    func send(_ bytes: [UInt8], before deadline: ContinuousClock.Instant) throws(HTTP2Error) {
        do { try connection.send(bytes, before: deadline) } catch { throw Self.mapped(error) }
    }

    func receive(upTo limit: Int, before deadline: ContinuousClock.Instant) throws(HTTP2Error) -> [UInt8] {
        do { return try connection.receive(upTo: limit, before: deadline) } catch { throw Self.mapped(error) }
    }

    private static func mapped(_ error: TransportError) -> HTTP2Error {
        if case .timedOut(let s) = error { return .timedOut(s) }
        return .connection("\(error)")
    }
}
