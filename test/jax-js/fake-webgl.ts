/**
 * jax-js's `webgl` device in Node, for tests of what the adapter does there without a browser: a
 * WebGL2 context that draws nothing (every read gives zeros) and records the GLSL of every fragment
 * shader jax-js compiles, and how many textures (device buffers) are alive. jax-js 0.1.25 creates its
 * WebGL backend from `new OffscreenCanvas(0, 0).getContext('webgl2')` where `WebGL2RenderingContext`
 * exists; install this before `jax.init('webgl')`, in a test file of its own (it defines both globals).
 * What runs on it is jax-js's own code generator, unchanged: the shaders are those a browser would get.
 */
export interface FakeWebGL {
  /** The source of every fragment shader compiled so far. */
  readonly shaders: string[];
  /** Textures created and not deleted. */
  liveTextures(): number;
  /** Kernels run so far (jax-js draws one triangle per kernel). */
  draws(): number;
}

export function installFakeWebGL(): FakeWebGL {
  const shaders: string[] = [];
  let live = 0, draws = 0;
  const FRAGMENT_SHADER = 35632;
  const constants: Record<string, number> = {
    NO_ERROR: 0, FRAMEBUFFER_COMPLETE: 36053, TIMEOUT_EXPIRED: 37147, WAIT_FAILED: 37149, ALREADY_SIGNALED: 37146, FRAGMENT_SHADER, VERTEX_SHADER: 35633,
  };
  const kinds = new WeakMap<object, number>();
  const methods: Record<string, (...args: any[]) => unknown> = {
    getError: () => constants.NO_ERROR,
    checkFramebufferStatus: () => constants.FRAMEBUFFER_COMPLETE,
    clientWaitSync: () => constants.ALREADY_SIGNALED,
    isContextLost: () => false,
    getShaderParameter: () => true,
    getProgramParameter: () => true,
    getExtension: () => ({}),
    createTexture: () => { live++; return {}; },
    deleteTexture: () => { live--; },
    drawArrays: () => { draws++; },
    createShader: (kind: number) => { const s = {}; kinds.set(s, kind); return s; },
    shaderSource: (s: object, source: string) => { if (kinds.get(s) === FRAGMENT_SHADER) shaders.push(source); },
  };
  // Any other constant is some number, any other method does nothing.
  const gl = new Proxy({}, { get: (_, key: string) => constants[key] ?? methods[key] ?? (/^[A-Z0-9_]+$/.test(key) ? 1 : () => ({})) });
  Object.assign(globalThis, {
    WebGL2RenderingContext: class {},
    OffscreenCanvas: class { getContext() { return gl; } },
  });
  return { shaders, liveTextures: () => live, draws: () => draws };
}
