#!/usr/bin/env node
import '../dist/assistant/cli.js';
