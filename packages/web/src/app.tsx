/** The app: the login screen while logged out, the chat once a session and its client exist. */
import { AuthScreen } from "./components/auth-screen.js";
import { ChatScreen } from "./components/chat-screen.js";
import { auth, currentClient } from "./session.js";
import { useStore } from "./hooks.js";

export function App() {
  const session = useStore(auth.session);
  const client = useStore(currentClient);
  if (!session || !client) return <AuthScreen />;
  return <ChatScreen key={session.user.id} client={client} self={session.user} />;
}
