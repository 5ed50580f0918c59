"""From findings to reports: the catalogue of checks and their rules, the findings a check
raises, the verdict record of a case, gating and the baseline, and the renderers."""
