setInterval(() => console.error('listeners', process.listenerCount('SIGTERM'), process.listeners('SIGTERM').map(String).map(s => s.slice(0, 80))), 1500).unref();
