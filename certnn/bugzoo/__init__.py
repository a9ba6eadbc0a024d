"""BugZoo: real ML bugs, each reproduced, fixed in certnn and caught by an executable contract (issue #17)."""
