// Allure 3 configuration for `make report` (reports/allure-results -> reports/allure-report).
//
// The categories come from the results folder: sockcheck's controller writes
// categories.json there (Allure 2's format, fixtures/allure_report.py), which
// Allure 3's Awesome report reads only from its configuration. Allure 3
// accepts the Allure 2 keys (name, matchedStatuses, messageRegex), so one file
// serves both.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "allure";

// The Makefile names the results folder; by default, the one `make conformance` writes.
const results = resolve(
  process.env.SOCKCHECK_ALLURE_RESULTS ?? fileURLToPath(new URL("../reports/allure-results", import.meta.url)),
);
const categoriesFile = resolve(results, "categories.json");
const categories = existsSync(categoriesFile) ? JSON.parse(readFileSync(categoriesFile, "utf8")) : [];

export default defineConfig({
  name: "sockcheck conformance",
  categories,
  plugins: {
    awesome: {
      options: {
        reportName: "sockcheck conformance",
        reportLanguage: "en",
        // The tree: "tcp targets" > target > check family > test case.
        groupBy: ["parentSuite", "suite", "subSuite"],
      },
    },
  },
});
