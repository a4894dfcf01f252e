process.on('SIGTERM', () => { console.log('got SIGTERM'); setTimeout(() => process.exit(0), 100); });
setInterval(() => {}, 1000);
console.log('ready', process.listenerCount('SIGTERM'));
