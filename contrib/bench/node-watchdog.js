// node-watchdog.js — a small, faithful copy of the polling respawner that
// tend replaces (see NODE-WATCHDOG.md §1), used as a peer by contrib/bench/run.
//
// Every WATCHDOG_INTERVAL_MS (default 15000) it runs `pgrep -f PATTERN`; when
// nothing matches it spawns the worker with `detached: true`, all stdio
// ignored, and `unref()`, then logs "Patch executor started with PID: N".
// The pattern and the worker command come from the environment (not argv),
// so that `pgrep -f` does not match the watchdog itself:
//   WATCHDOG_PATTERN   string given to pgrep -f
//   WATCHDOG_CMD       JSON array: [command, arg...]
//   WATCHDOG_LOG       log file (default ./patch-runner-watchdog.log)
'use strict';
const { spawn, execFile } = require('child_process');
const fs = require('fs');
const path = require('path');

const interval = parseInt(process.env.WATCHDOG_INTERVAL_MS || '15000', 10);
const pattern = process.env.WATCHDOG_PATTERN || 'patch-executor.js';
const cmd = process.env.WATCHDOG_CMD
  ? JSON.parse(process.env.WATCHDOG_CMD)
  : ['node', 'patch-executor.js', '--watch'];
const logFile = path.resolve(process.env.WATCHDOG_LOG || 'patch-runner-watchdog.log');

// safeLog: console.log can throw EPIPE once the terminal is gone; fall back
// to appending to a file with an absolute path.
function safeLog(msg) {
  const line = `[${new Date().toISOString()}] ${msg}\n`;
  try {
    fs.appendFileSync(logFile, line);
  } catch (_) {
    try {
      console.log(line.trimEnd());
    } catch (_) {
      /* swallowed, as the original does */
    }
  }
}

function check() {
  execFile('pgrep', ['-f', pattern], (err, stdout) => {
    if (!err && stdout.trim() !== '') return; // running
    const child = spawn(cmd[0], cmd.slice(1), { detached: true, stdio: 'ignore' });
    child.on('error', (e) => safeLog(`spawn failed: ${e.message}`));
    child.unref();
    safeLog(`Patch executor started with PID: ${child.pid}`);
  });
}

check();
setInterval(check, interval);
