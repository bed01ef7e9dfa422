/** Users (admins only), devices (their owner, or an admin), and the questions asked. */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import { reachableUrls, setupAddress } from '../lan.js';
import { addDevice, addUser, changePassword, cleanDeviceName, cleanRoom, removeUser, setAdmin } from '../accounts.js';
import { deviceView, queryView, userView } from '../views.js';
import type { Device } from '../../store/types.js';
import {
  DeviceReply,
  DevicesReply,
  GUARDED,
  IdParams,
  JSON_BODY,
  NewDeviceReply,
  NoContent,
  QueriesReply,
  UserReply,
  UsersReply,
  WhoAmIDevice,
  errors,
} from '../schemas.js';

const Id = IdParams;
const Name = Type.String({ minLength: 1, maxLength: 64 });
const Room = Type.Union([Type.String({ maxLength: 64 }), Type.Null()]);

/**
 * The address a Pi should use, for the ready-to-paste setup line: the page's own address when other machines
 * can use it (a LAN address, or a public name behind a proxy); seen on this machine itself (127.0.0.1), a LAN
 * address of the server instead; with a note when nothing but this machine can reach the server. A page
 * opened through the server's own HTTPS listener (--tls-port) gives the plain HTTP address: a Pi does not
 * trust a self-signed certificate, and needs no HTTPS (only a browser's microphone does).
 */
export function setupTarget(request: FastifyRequest): { url: string; note: string | null } {
  const config = request.server.config;
  const addr = request.server.server.address();
  const port = addr && typeof addr === 'object' ? addr.port : config.port;
  const local = request.raw.socket?.localPort;
  const viaOwnTls = request.protocol === 'https' && !!config.tlsPort && local === config.tlsPort;
  const host = viaOwnTls ? request.host.replace(/:\d+$/, `:${port}`) : request.host;
  return setupAddress(viaOwnTls ? 'http' : request.protocol, host, reachableUrls(config.host, port, 'http'));
}

export function setupCommand(request: FastifyRequest, token: string): { command: string; note: string | null } {
  const t = setupTarget(request);
  return { command: `whereabouts-pi setup --server ${t.url} --token ${token}`, note: t.note };
}

const accountRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { store } = app;

  // ---- users ----
  app.get('/v1/users', { preHandler: app.guard.admin, schema: { description: 'every account', response: { 200: UsersReply, ...errors(...GUARDED) } } }, async () => ({ users: (await store.listUsers()).map(userView) }));

  app.post(
    '/v1/users',
    {
      preHandler: app.guard.admin,
      schema: {
        description: 'add an account',
        body: Type.Object({ name: Name, password: Type.String({ maxLength: 1024 }), admin: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        response: { 201: UserReply, ...errors(...GUARDED, ...JSON_BODY, 409) },
      },
    },
    async (request, reply) => {
      const u = await addUser(store, request.body.name, request.body.password, request.body.admin ?? false);
      return reply.status(201).send({ user: userView(u) });
    },
  );

  app.patch(
    '/v1/users/:id',
    {
      preHandler: app.guard.admin,
      schema: {
        description: 'make or unmake an admin, or set a password (ends their sessions)',
        params: Id,
        body: Type.Object({ admin: Type.Optional(Type.Boolean()), password: Type.Optional(Type.String({ maxLength: 1024 })) }, { additionalProperties: false }),
        response: { 200: UserReply, ...errors(...GUARDED, ...JSON_BODY, 404, 409) },
      },
    },
    async (request) => {
      const id = request.params.id;
      if (!(await store.getUserById(id))) throw new AppError('not_found', 'no such user');
      if (request.body.password !== undefined) await changePassword(store, id, request.body.password);
      if (request.body.admin !== undefined) await setAdmin(store, id, request.body.admin);
      return { user: userView((await store.getUserById(id))!) };
    },
  );

  const deleteUser = { description: 'delete an account with its devices, sightings and questions', params: Id, response: { 204: NoContent, ...errors(...GUARDED, 404, 409) } };
  app.delete('/v1/users/:id', { preHandler: app.guard.admin, schema: deleteUser }, async (request, reply) => {
    await removeUser(store, request.params.id);
    return reply.status(204).send();
  });

  // ---- devices ----
  /** the device if the caller may manage it; 404 otherwise (never reveal another user's device) */
  async function ownDevice(request: FastifyRequest, id: number): Promise<Device> {
    const p = request.principal!;
    const d = await store.getDevice(id);
    if (!d || (d.userId !== p.user.id && !p.user.isAdmin)) throw new AppError('not_found', 'no such device');
    return d;
  }

  app.get(
    '/v1/devices',
    {
      preHandler: app.guard.user,
      schema: {
        description: 'your devices (`all=true`: everyone\'s, admins only)',
        querystring: Type.Object({ all: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        response: { 200: DevicesReply, ...errors(...GUARDED) },
      },
    },
    async (request) => {
      const p = request.principal!;
      if (request.query.all && !p.user.isAdmin) throw new AppError('forbidden', 'only an admin can list every device');
      const devices = await store.listDevices(request.query.all ? undefined : p.user.id);
      return { devices: devices.map((d) => deviceView(d)) };
    },
  );

  app.post(
    '/v1/devices',
    {
      preHandler: app.guard.user,
      schema: {
        description: 'add a device (admins: for another `user`); the token is shown once, with the Pi setup command',
        body: Type.Object({ name: Name, room: Type.Optional(Room), user: Type.Optional(Name) }, { additionalProperties: false }),
        response: { 201: NewDeviceReply, ...errors(...GUARDED, ...JSON_BODY, 404, 409) },
      },
    },
    async (request, reply) => {
      const p = request.principal!;
      let owner = p.user;
      if (request.body.user !== undefined && request.body.user !== p.user.name) {
        if (!p.user.isAdmin) throw new AppError('forbidden', 'only an admin can make a device for another user');
        const u = await store.getUserByName(request.body.user);
        if (!u) throw new AppError('not_found', `no user named "${request.body.user}"`);
        owner = u;
      }
      const { device, token } = await addDevice(store, owner.id, request.body.name, request.body.room ?? null);
      app.places.invalidate(owner.id); // rooms are places
      const setup = setupCommand(request, token);
      return reply.status(201).send({ device: deviceView(device), token, setup_command: setup.command, setup_note: setup.note });
    },
  );

  app.patch(
    '/v1/devices/:id',
    {
      preHandler: app.guard.user,
      schema: {
        description: 'rename a device or move it to another room',
        params: Id,
        body: Type.Object({ name: Type.Optional(Name), room: Type.Optional(Room) }, { additionalProperties: false }),
        response: { 200: DeviceReply, ...errors(...GUARDED, ...JSON_BODY, 404, 409) },
      },
    },
    async (request) => {
      const current = await ownDevice(request, request.params.id);
      if (current.revokedAt !== null) throw new AppError('conflict', 'this device was revoked: it cannot be changed (add a new one instead)');
      const name = request.body.name === undefined ? undefined : cleanDeviceName(request.body.name);
      const d = await store.updateDevice(request.params.id, { name, room: request.body.room === undefined ? undefined : cleanRoom(request.body.room) });
      app.places.invalidate(d!.userId); // rooms are places
      return { device: deviceView(d!) };
    },
  );

  const revokeDevice = { description: 'revoke a device (its token stops working at once)', params: Id, response: { 204: NoContent, ...errors(...GUARDED, 404) } };
  app.delete('/v1/devices/:id', { preHandler: app.guard.user, schema: revokeDevice }, async (request, reply) => {
    await ownDevice(request, request.params.id);
    await store.revokeDevice(request.params.id, Date.now());
    const gone = await store.getDevice(request.params.id);
    if (gone) app.places.invalidate(gone.userId); // rooms are places
    return reply.status(204).send();
  });

  // a device can ask who it is (used by `whereabouts-pi setup` to check its token)
  const whoAmI = { description: 'the calling device and its owner', response: { 200: WhoAmIDevice, ...errors(...GUARDED) } };
  app.get('/v1/device', { preHandler: app.guard.device, schema: whoAmI }, async (request) => {
    const p = request.principal!;
    if (p.kind !== 'device') throw new AppError('forbidden', 'this needs a device token');
    return { device: deviceView(p.device), user: { id: p.user.id, name: p.user.name } };
  });

  // ---- questions asked ----
  app.get(
    '/v1/queries',
    {
      preHandler: app.guard.user,
      schema: {
        description: 'recent questions, newest first, with per-stage timings and, for spoken ones, what the recogniser heard (`heard`: alternatives, word confidences, the second look) (`all=true`: everyone\'s, admins only)',
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })), all: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        response: { 200: QueriesReply, ...errors(...GUARDED) },
      },
    },
    async (request) => {
      const p = request.principal!;
      if (request.query.all && !p.user.isAdmin) throw new AppError('forbidden', 'only an admin can see every question');
      await app.queryLog.flush();
      const rows = await store.listQueries(request.query.all ? null : p.user.id, request.query.limit ?? 50);
      return { queries: rows.map(queryView) };
    },
  );
};

export default accountRoutes;
