// A fuzz target; see FuzzDriver for how it runs (libFuzzer or corpus replay) and scripts/checks/fuzz.sh.
import FuzzTargets

FuzzDriver.main(ConfigFuzz.self)
