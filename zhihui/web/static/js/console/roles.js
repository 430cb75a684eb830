// What each role may do, as the API enforces it (zhihui/api/deps.py): the screen only offers what
// the server would accept, so nobody meets a 403 in normal use.
const CAN = {
  intake: ["call_taker", "dispatcher", "commander"],
  dispatch: ["dispatcher", "commander"],
  recommend: ["dispatcher", "commander", "call_taker", "leader"],
  close: ["commander"],
  backlog: ["dispatcher", "commander", "leader", "inspector"],
  stats: ["analyst", "leader", "commander", "inspector", "admin"], // GET /analytics/* (the /stats page)
  intel: ["analyst", "commander", "leader", "admin"], // GET /intel/* (the /intel page)
  hotspots: ["analyst", "leader", "commander", "inspector", "admin", "dispatcher"],
};

export function can(user, what) {
  return !!user && (CAN[what] || []).includes(user.role);
}
