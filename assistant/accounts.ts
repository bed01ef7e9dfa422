/** Account operations shared by the HTTP routes, the admin page and the CLI. */
import { AppError } from './errors.js';
import { DEVICE_TOKEN_PREFIX, checkPasswordPolicy, checkUserName, hashPassword, hashToken, newToken } from './auth/secrets.js';
import type { Device, Store, User } from '../store/types.js';
import { checkName } from './names.js';

export async function addUser(store: Store, name: string, password: string, isAdmin: boolean): Promise<User> {
  const bad = checkUserName(name) ?? checkPasswordPolicy(password);
  if (bad) throw new AppError('validation', bad);
  if (await store.getUserByName(name)) throw new AppError('conflict', `a user named "${name}" already exists`);
  return store.createUser({ name, passwordHash: await hashPassword(password), isAdmin });
}

/** first-run setup: the first account, an admin; refused (conflict) once any account exists */
export async function addFirstAdmin(store: Store, name: string, password: string): Promise<User> {
  const bad = checkUserName(name) ?? checkPasswordPolicy(password);
  if (bad) throw new AppError('validation', bad);
  const u = await store.createFirstUser({ name, passwordHash: await hashPassword(password), isAdmin: true });
  if (!u) throw new AppError('conflict', 'this server already has accounts: first-run setup is closed');
  return u;
}

export async function changePassword(store: Store, userId: number, password: string): Promise<void> {
  const bad = checkPasswordPolicy(password);
  if (bad) throw new AppError('validation', bad);
  await store.setPassword(userId, await hashPassword(password));
}

/** refuses to remove or demote the last admin, so the household never locks itself out */
export async function removeUser(store: Store, userId: number): Promise<void> {
  const u = await store.getUserById(userId);
  if (!u) throw new AppError('not_found', 'no such user');
  if (u.isAdmin && (await store.countAdmins()) <= 1) throw new AppError('conflict', 'cannot remove the last admin');
  await store.deleteUser(userId);
}

export async function setAdmin(store: Store, userId: number, isAdmin: boolean): Promise<User> {
  const u = await store.getUserById(userId);
  if (!u) throw new AppError('not_found', 'no such user');
  if (u.isAdmin && !isAdmin && (await store.countAdmins()) <= 1) throw new AppError('conflict', 'cannot remove admin from the last admin');
  await store.setAdmin(userId, isAdmin);
  return (await store.getUserById(userId))!;
}

export function cleanRoom(room: string | null | undefined): string | null {
  const r = room?.trim();
  if (r) {
    const bad = checkName(r, 'a room name');
    if (bad) throw new AppError('validation', bad);
  }
  return r ? r : null;
}

/** a device name as given (trimmed); refuses empty names and control characters */
export function cleanDeviceName(name: string): string {
  const n = name.trim();
  if (!n) throw new AppError('validation', 'the device needs a name');
  const bad = checkName(n, 'a device name');
  if (bad) throw new AppError('validation', bad);
  return n;
}

/** makes a device and returns its token: shown once, only its hash is stored */
export async function addDevice(store: Store, userId: number, name: string, room: string | null): Promise<{ device: Device; token: string }> {
  const n = cleanDeviceName(name);
  const token = newToken(DEVICE_TOKEN_PREFIX);
  const device = await store.createDevice({ userId, name: n, room: cleanRoom(room), tokenHash: hashToken(token) });
  return { device, token };
}
