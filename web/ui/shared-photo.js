// A photo shared to Offcut from another app (the manifest's share_target): the service
// worker kept it in this device's cache and opened the page with ?shared=1. Taken once.

const SHARED_CACHE = 'offcut.shared'; // sw.js puts it there
const SHARED_KEY = 'shared-photo';

/** The shared photo as a File, or null (none, or no Cache Storage). */
export async function takeSharedPhoto() {
  const url = new URL(location.href);
  if (!url.searchParams.has('shared')) return null;
  url.searchParams.delete('shared');
  history.replaceState(null, '', url.href); // a reload must not take it again
  try {
    const cache = await caches.open(SHARED_CACHE);
    const key = new URL(SHARED_KEY, url).href;
    const response = await cache.match(key);
    if (!response) return null;
    await cache.delete(key);
    const name = decodeURIComponent(response.headers.get('Offcut-Name') || 'shared');
    return new File([await response.blob()], name, { type: response.headers.get('Content-Type') || '' });
  } catch {
    return null;
  }
}
