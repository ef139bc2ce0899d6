#!/usr/bin/env bash
# test/e2e/83_sanitizers.t: the regression suites (unit, every pgTAP file,
# every isolation spec) and a 200-cart storm through the relay, with the
# extension, the relay and the unit tests built with
# -fsanitize=address,undefined, on a cluster of its own with the sanitizer
# runtimes preloaded; zero reports allowed, and two deliberately broken
# probe functions must be caught.  About two minutes on 2 cores.
SW_ROOT=${SW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
exec "$SW_ROOT/test/sanitize/run.sh" --tap --storm 200
