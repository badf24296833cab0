"""What the tests share: servers on 127.0.0.1, the secret canary, counters, hashers."""
