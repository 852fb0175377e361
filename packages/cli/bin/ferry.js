#!/usr/bin/env node
// The `ferry` command. A file in the repository (not in dist/), so that `npm ci` can link it
// before the build has made dist/: npm links no bin whose file is missing.
import '../dist/bin.js';
