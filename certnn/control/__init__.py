"""Neural controllers: closed-loop reachability with checked reach tubes, certified Lyapunov functions (issue #12)."""
