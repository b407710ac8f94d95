// An app's developers and their roles: add one by email, change a role,
// remove one. Owners and admins manage members; the API says who may.

import { $, button, form, gql, h, input, select, table, when } from './lib.js';

const ROLES = ['OWNER', 'ADMIN', 'DEVELOPER', 'VIEWER'];

export async function render(app, page, { reload }) {
  const data = await gql(
    'query($id: ID!) { app(id: $id) { members(first: 100) { edges { node { user { id displayName } email role joinedAt } } } } }',
    { id: app.id },
  );
  const members = data.app.members.edges.map(({ node }) => node);
  const setRole = (member, role) =>
    gql('mutation($input: SetAppMemberRoleInput!) { setAppMemberRole(input: $input) { member { role } } }', {
      input: { appId: app.id, userId: member.user.id, role },
    }).then(reload);
  const remove = (member) => async () => {
    if (!window.confirm(`Remove ${member.email} from this app?`)) return;
    await gql('mutation($input: RemoveAppMemberInput!) { removeAppMember(input: $input) { removedUserId } }', {
      input: { appId: app.id, userId: member.user.id },
    });
    await reload();
  };
  page.append(
    h('h3', {}, 'Members'),
    h('p', { className: 'muted' }, 'Viewers read; developers build (agents, routines, webhooks); admins also hold the keys and members; owners can delete the app.'),
    table(
      'members',
      ['Name', 'Email', 'Role', 'Joined', ''],
      members.map((member) => {
        // h() runs `onchange` through run(): a refusal is shown like any other.
        const role = select(`role-${member.user.id}`, ROLES, { onchange: (event) => setRole(member, event.target.value) });
        role.value = member.role;
        return [member.user.displayName, member.email, role, when(member.joinedAt), button('Remove', remove(member))];
      }),
      (index) => members[index].email,
    ),
    form(
      'new-member',
      async () => {
        await gql('mutation($input: AddAppMemberInput!) { addAppMember(input: $input) { member { email } } }', {
          input: { appId: app.id, email: $('member-email').value, role: $('member-role').value },
        });
        await reload();
      },
      input('member-email', "A developer's email", { type: 'email' }),
      select('member-role', ['DEVELOPER', 'VIEWER', 'ADMIN', 'OWNER']),
      h('button', { id: 'add-member' }, 'Add member'),
    ),
  );
}
