// The door's camera: reads QR codes from the video, with the browser's BarcodeDetector where
// it has one for QR codes, else ZXing (vendored, WebAssembly, served by this service).
// Marks for the scanner test (performance marks): "decoder-load", "decoder-loaded",
// "camera-first-frame", "decoder-ready" (for the camera), "code-decoded"; the scanner page
// adds "door-shown" and "colour-shown".

const WASM = new URL("./vendor/zxing-wasm/reader/zxing_reader.wasm", import.meta.url).href;
// The same code held in front of the camera is one scan, not one per frame.
const SAME_CODE_MS = 4000;
const IDLE_MS = 60;

async function nativeDecoder() {
  if (!("BarcodeDetector" in window)) return null;
  try {
    if (!(await window.BarcodeDetector.getSupportedFormats()).includes("qr_code")) return null;
  } catch {
    return null;
  }
  const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
  return async (video) => {
    const found = await detector.detect(video);
    return found.length ? found[0].rawValue : null;
  };
}

async function zxingDecoder() {
  const zxing = await import("./vendor/zxing-wasm/es/reader/index.js");
  await zxing.prepareZXingModule({
    overrides: { locateFile: (path, prefix) => (path.endsWith(".wasm") ? WASM : prefix + path) },
    fireImmediately: true,
  });
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  return async (video) => {
    const width = video.videoWidth;
    const height = video.videoHeight;
    if (!width || !height) return null;
    canvas.width = width;
    canvas.height = height;
    context.drawImage(video, 0, 0, width, height);
    const found = await zxing.readBarcodes(context.getImageData(0, 0, width, height), {
      formats: ["QRCode"],
      maxNumberOfSymbols: 1,
      tryHarder: true,
    });
    return found.length && found[0].isValid ? found[0].text : null;
  };
}

// The decoder this browser gets: "native" or "zxing", and the function.
export async function qrDecoder() {
  const native = await nativeDecoder();
  if (native) return { kind: "native", decode: native };
  return { kind: "zxing", decode: await zxingDecoder() };
}

let preparing = null;

// The decoder, loaded once per page: when the camera is first turned on, or ahead of that
// (the scanner page does it after its first paint on a door that uses the camera).
export function prepareDecoder() {
  if (!preparing) {
    performance.mark("decoder-load");
    preparing = qrDecoder().then(
      (decoder) => {
        performance.mark("decoder-loaded");
        return decoder;
      },
      (err) => {
        preparing = null;
        throw err;
      },
    );
  }
  return preparing;
}

export class Camera {
  constructor(video, onCode) {
    this.video = video;
    this.onCode = onCode;
    this.running = false;
    this.last = { text: "", at: 0 };
  }

  // Resolves once the camera is on; rejects (NotAllowedError, NotFoundError…) if it cannot be.
  async start() {
    if (this.running) return;
    this.stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: "environment" },
      audio: false,
    });
    this.running = true;
    this.video.srcObject = this.stream;
    this.video.hidden = false;
    await this.video.play();
    performance.mark("camera-first-frame");
    this.decoder = this.decoder || (await prepareDecoder());
    performance.mark("decoder-ready");
    this.video.dataset.decoder = this.decoder.kind;
    this.loop();
  }

  stop() {
    this.running = false;
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.stream = null;
    this.video.srcObject = null;
    this.video.hidden = true;
  }

  // Let the same code be read again at once (the screen was cleared for the next person).
  forget() {
    this.last = { text: "", at: 0 };
  }

  async loop() {
    while (this.running) {
      let text = null;
      try {
        text = await this.decoder.decode(this.video);
      } catch {
        text = null; // a frame that could not be read; the next one may
      }
      const now = performance.now();
      if (text && (text !== this.last.text || now - this.last.at > SAME_CODE_MS)) {
        this.last = { text, at: now };
        if (!performance.getEntriesByName("code-decoded").length) performance.mark("code-decoded");
        this.onCode(text);
      }
      await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    }
  }
}
