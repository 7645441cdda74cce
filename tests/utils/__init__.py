"""Support shared by the tests (not tests themselves): waiting, the simulator, the service, the browser.

  waiting.py    wait_for: poll until true or fail the test naming what was awaited
  simulator.py  simulator_fixture: a real simulator for a module (or session)
  service.py    a `camsvc serve` subprocess checking the simulator's fleet; Recorder; a migrated engine
  browser.py    Debian's chromium through Playwright; polling a JS expression; opening the dashboard

The polling loop itself is camsvc.bench.common.wait_until (the benchmarks use it too).
"""
