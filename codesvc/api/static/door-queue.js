// Scans the door decided offline, kept in IndexedDB (they survive a reload or a restart of
// the tablet) until the service has recorded them.

const DB = "codesvc-door";
const STORE = "offline-scans";

function opened() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "scan_id" });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function transact(mode, work) {
  const db = await opened();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const result = work(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

// {scan_id, code, scanned_at, venue}: kept until remove() is called with its scan_id.
export function add(scan) {
  return transact("readwrite", (store) => store.put(scan));
}

export function all() {
  return transact("readonly", (store) => store.getAll());
}

export function remove(scanIds) {
  return transact("readwrite", (store) => {
    for (const id of scanIds) store.delete(id);
  });
}
