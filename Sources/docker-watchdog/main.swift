import Foundation
import Watchdog

exit(Entrypoint.main(arguments: Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment))
