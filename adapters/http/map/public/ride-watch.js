// What a rider (or driver) sees: only rides they name or are offered, followed over the
// stream. The server decides what they may see; a ride that is not theirs is refused.

const RIDE_ID = /^[A-Za-z0-9_-]{1,64}$/;
const $ = (id) => document.getElementById(id);

export function createRideWatch({ session, stream, view, getRide }) {
  const key = `ridecast.watch.${session.userId}`;
  const rows = new Map(); // rideId → <li>
  const form = $('watch-form');
  const error = $('watch-error');
  const list = $('watched');

  const save = () => sessionStorage.setItem(key, JSON.stringify([...rows.keys()]));
  const say = (text) => {
    error.textContent = text;
    error.hidden = !text;
  };

  const row = (rideId) => {
    const li = document.createElement('li');
    const code = document.createElement('code');
    code.textContent = rideId;
    const status = document.createElement('span');
    status.className = 'status';
    status.textContent = '…';
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'link';
    remove.textContent = '×';
    remove.title = 'Stop following';
    remove.addEventListener('click', () => {
      stream.unfollow(rideId);
      rows.delete(rideId);
      li.remove();
      save();
    });
    li.append(code, status, remove);
    return li;
  };

  const follow = async (rideId) => {
    if (rows.has(rideId)) return;
    const li = row(rideId);
    rows.set(rideId, li);
    list.prepend(li);
    save();
    stream.follow(rideId);
    const ride = await getRide(rideId);
    if (ride) {
      view.rideStatus({ rideId, status: ride.status, pickup: ride.pickup, dropoff: ride.dropoff, driverId: ride.driverId });
      li.querySelector('.status').textContent = ride.status;
    }
  };

  const onSubmit = (event) => {
    event.preventDefault();
    const rideId = new FormData(form).get('rideId')?.toString().trim() ?? '';
    if (!RIDE_ID.test(rideId)) return say('A ride id is letters, digits, "_" and "-".');
    say('');
    form.reset();
    void follow(rideId);
  };
  form.addEventListener('submit', onSubmit);

  try {
    for (const rideId of JSON.parse(sessionStorage.getItem(key) ?? '[]')) if (RIDE_ID.test(rideId)) void follow(rideId);
  } catch {
    sessionStorage.removeItem(key);
  }

  return {
    follow,
    status(message) {
      const li = rows.get(message.rideId);
      if (!li) return;
      li.querySelector('.status').textContent = message.status;
      // The last event shown, which a reconnection resumes after.
      if (message.eventId !== undefined) li.dataset.eventId = String(message.eventId);
    },
    refused(message) {
      if (message.rideId && rows.has(message.rideId)) say(`${message.rideId}: ${message.message ?? message.code}`);
    },
    stop() {
      form.removeEventListener('submit', onSubmit);
      list.replaceChildren();
      say('');
    },
  };
}
