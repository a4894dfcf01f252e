const t = setInterval(() => { if (process.listenerCount('SIGTERM') >= 1) { clearInterval(t); process.kill(process.pid, 'SIGTERM'); } }, 1);
