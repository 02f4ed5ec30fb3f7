pytest_plugins = [
    "tests.harness.bluesky_fixture",
    "tests.harness.wordpress_fixture",
    "tests.harness.services",
    "tests.fakes.fixtures",
    "tests.fakes.x_fixtures",
    "tests.fakes.telegram_fixtures",
    "tests.fakes.linkedin_discord_fixtures",
    "tests.fakes.graph_fixtures",
    "tests.dashboard_fixtures",
]
