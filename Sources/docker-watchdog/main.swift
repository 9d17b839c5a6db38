import FoundationEssentials
#if canImport(Glibc)
    import Glibc
#endif
import Watchdog

exit(Entrypoint.main(arguments: Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment))
