pytest_plugins = [
    "tests.harness.bluesky_fixture",
    "tests.harness.wordpress_fixture",
    "tests.harness.services",
    "tests.fakes.fixtures",
]
