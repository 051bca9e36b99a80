<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>ChatController</name>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/controller.py" line="369"/>
        <location filename="../../autoglm_desktop/qt/chat/controller.py" line="550"/>
        <source>Assistant</source>
        <translation>助手</translation>
    </message>
    <message numerus="yes">
        <location filename="../../autoglm_desktop/qt/chat/controller.py" line="455"/>
        <source>%n earlier message(s) did not fit in the model&apos;s context and were left out of this reply (they are still saved here).</source>
        <translation>
            <numerusform>有 %n 条较早的消息超出了模型的上下文，本次回复未使用它们（它们仍保存在这里）。</numerusform>
        </translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/controller.py" line="515"/>
        <source>The reply is not saved yet; it will be saved as soon as possible.</source>
        <translation>回复尚未保存，将尽快保存。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/controller.py" line="545"/>
        <source>The reply is saved.</source>
        <translation>回复已保存。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/controller.py" line="550"/>
        <source>You</source>
        <translation>你</translation>
    </message>
</context>
<context>
    <name>ChatView</name>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/view.py" line="763"/>
        <location filename="../../autoglm_desktop/qt/chat/view.py" line="892"/>
        <location filename="../../autoglm_desktop/qt/chat/view.py" line="1044"/>
        <location filename="../../autoglm_desktop/qt/chat/view.py" line="1066"/>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/view.py" line="1015"/>
        <location filename="../../autoglm_desktop/qt/chat/view.py" line="1068"/>
        <source>Regenerate</source>
        <translation>重新生成</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/view.py" line="1044"/>
        <source>Edit</source>
        <translation>编辑</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/view.py" line="1061"/>
        <source>You</source>
        <translation>你</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/view.py" line="1117"/>
        <source>— reply failed</source>
        <translation>— 回复失败</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/view.py" line="1119"/>
        <source>— reply interrupted</source>
        <translation>— 回复已中断</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/view.py" line="1123"/>
        <source>— the reply ended while the model was still thinking; raise Max reply tokens in Chat settings for a full answer</source>
        <translation>— 模型仍在思考时回复已结束；请在对话设置中调高“最大回复 token 数”以获得完整回答</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/view.py" line="1086"/>
        <location filename="../../autoglm_desktop/qt/chat/view.py" line="1092"/>
        <location filename="../../autoglm_desktop/qt/chat/view.py" line="1103"/>
        <source>Assistant</source>
        <translation>助手</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/view.py" line="1134"/>
        <source>System</source>
        <translation>系统</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/view.py" line="1191"/>
        <source>Code copied to the clipboard</source>
        <translation>代码已复制到剪贴板</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/view.py" line="1200"/>
        <location filename="../../autoglm_desktop/qt/chat/view.py" line="1217"/>
        <source>Thinking copied to the clipboard</source>
        <translation>思考过程已复制到剪贴板</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/view.py" line="1208"/>
        <source>Message copied to the clipboard</source>
        <translation>消息已复制到剪贴板</translation>
    </message>
</context>
<context>
    <name>Composer</name>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/composer.py" line="46"/>
        <source>Regenerate</source>
        <translation>重新生成</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/composer.py" line="47"/>
        <source>Write the last reply again</source>
        <translation>重新写最后一条回复</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/composer.py" line="69"/>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/composer.py" line="69"/>
        <source>Send</source>
        <translation>发送</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/composer.py" line="71"/>
        <source>Stop the reply (Esc)</source>
        <translation>停止回复（Esc）</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/composer.py" line="71"/>
        <source>Send (Enter)</source>
        <translation>发送（Enter）</translation>
    </message>
</context>
<context>
    <name>ConversationListModel</name>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/conversation_list.py" line="75"/>
        <source>New chat</source>
        <translation>新对话</translation>
    </message>
    <message numerus="yes">
        <location filename="../../autoglm_desktop/qt/chat/conversation_list.py" line="78"/>
        <source>%n message(s), last active %1</source>
        <translation>
            <numerusform>%n 条消息，最近活动 %1</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>ConversationSettingsDialog</name>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/conversation_settings.py" line="24"/>
        <source>Chat settings</source>
        <translation>对话设置</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/conversation_settings.py" line="26"/>
        <source>e.g. You are a concise assistant.</source>
        <translation>例如：你是一个简洁的助手。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/conversation_settings.py" line="34"/>
        <source>random</source>
        <translation>随机</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/conversation_settings.py" line="36"/>
        <source>System prompt:</source>
        <translation>系统提示词：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/conversation_settings.py" line="37"/>
        <source>Temperature:</source>
        <translation>温度：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/conversation_settings.py" line="38"/>
        <source>Top-p:</source>
        <translation>Top-p：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/conversation_settings.py" line="39"/>
        <source>Top-k:</source>
        <translation>Top-k：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/conversation_settings.py" line="40"/>
        <source>Min-p:</source>
        <translation>Min-p：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/conversation_settings.py" line="41"/>
        <source>Repeat penalty:</source>
        <translation>重复惩罚：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/conversation_settings.py" line="42"/>
        <source>Max reply tokens:</source>
        <translation>最大回复 token 数：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/conversation_settings.py" line="43"/>
        <source>Seed:</source>
        <translation>随机种子：</translation>
    </message>
</context>
<context>
    <name>ConversationSidebar</name>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/conversation_list.py" line="104"/>
        <source>New chat</source>
        <translation>新对话</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/conversation_list.py" line="107"/>
        <source>Search chats…</source>
        <translation>搜索对话…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/conversation_list.py" line="113"/>
        <location filename="../../autoglm_desktop/qt/chat/conversation_list.py" line="155"/>
        <source>Your chats will appear here.</source>
        <translation>你的对话会显示在这里。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/conversation_list.py" line="153"/>
        <source>No chat matches your search.</source>
        <translation>没有与搜索匹配的对话。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/conversation_list.py" line="169"/>
        <source>Rename…</source>
        <translation>重命名…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/conversation_list.py" line="170"/>
        <source>Export…</source>
        <translation>导出…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/conversation_list.py" line="172"/>
        <source>Delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/conversation_list.py" line="183"/>
        <source>Rename chat</source>
        <translation>重命名对话</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/conversation_list.py" line="183"/>
        <source>New name:</source>
        <translation>新名称：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/conversation_list.py" line="192"/>
        <source>Delete chat</source>
        <translation>删除对话</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/conversation_list.py" line="193"/>
        <source>Delete “%1” and all its messages? This cannot be undone.</source>
        <translation>删除“%1”及其全部消息？此操作无法撤销。</translation>
    </message>
</context>
<context>
    <name>DiscoverPage</name>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="558"/>
        <source>Search GGUF models on the hub, e.g. “qwen 1.5b” or “glm”</source>
        <translation>搜索 GGUF 模型，例如“qwen 1.5b”或“glm”</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="562"/>
        <source>Where models are searched and downloaded from</source>
        <translation>模型的搜索和下载来源</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="569"/>
        <source>Most downloaded</source>
        <translation>下载最多</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="570"/>
        <source>Most liked</source>
        <translation>点赞最多</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="571"/>
        <source>Recently updated</source>
        <translation>最近更新</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="572"/>
        <source>Trending</source>
        <translation>热门</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="589"/>
        <source>Recommended model</source>
        <translation>推荐模型</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="589"/>
        <source>Size</source>
        <translation>大小</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="589"/>
        <source>On this PC</source>
        <translation>本机适配</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="593"/>
        <source>Model</source>
        <translation>模型</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="593"/>
        <source>Downloads</source>
        <translation>下载量</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="593"/>
        <source>Likes</source>
        <translation>点赞</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="593"/>
        <source>Updated</source>
        <translation>更新时间</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="662"/>
        <source>Recommended for this PC</source>
        <translation>为本机推荐</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="665"/>
        <source>Checking which models fit this PC…</source>
        <translation>正在检查哪些模型适合本机…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="669"/>
        <source>Type to search every GGUF model on %1.</source>
        <translation>输入关键词即可搜索 %1 上的所有 GGUF 模型。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="696"/>
        <source>licence: %1</source>
        <translation>许可证：%1</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="734"/>
        <source>Models matching “%1” on %2</source>
        <translation>%2 上与“%1”匹配的模型</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="738"/>
        <source>Searching %1…</source>
        <translation>正在搜索 %1…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="756"/>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="880"/>
        <source>Loading more…</source>
        <translation>正在加载更多…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="763"/>
        <source>gated</source>
        <translation>需授权</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="767"/>
        <source>Gated: needs an access token to download.</source>
        <translation>需授权：下载需要访问令牌。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="783"/>
        <source>No GGUF models match “%1”. Try fewer or other words.</source>
        <translation>没有与“%1”匹配的 GGUF 模型。请减少关键词或换个说法。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="788"/>
        <source>1 model on %2</source>
        <translation>%2 上共 1 个模型</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="788"/>
        <source>%1 models on %2</source>
        <translation>%2 上共 %1 个模型</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="794"/>
        <source>%1 models so far; scroll for more</source>
        <translation>已找到 %1 个模型，向下滚动查看更多</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="809"/>
        <source>%1 is slow to answer. Still waiting… If it stays like this, check the connection or search Hugging Face instead.</source>
        <translation>%1 响应缓慢，仍在等待…… 如果一直这样，请检查网络连接，或改为搜索 Hugging Face。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="814"/>
        <source>%1 is slow to answer. Still waiting… If it stays like this, check the connection or choose the hf-mirror.com endpoint in Hub settings.</source>
        <translation>%1 响应较慢，仍在等待… 如果一直如此，请检查网络连接，或在“下载源设置”中改用 hf-mirror.com。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="822"/>
        <source>Nothing was searched: offline mode is on.</source>
        <translation>未进行搜索：已开启离线模式。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="827"/>
        <source>Try again</source>
        <translation>重试</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="827"/>
        <source>Hub settings…</source>
        <translation>下载源设置…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="923"/>
        <source>Offline mode is on: the app makes no network connection, so searching and downloading are off. Models already on this PC work as usual.</source>
        <translation>已开启离线模式：应用不进行任何网络连接，因此无法搜索和下载。本机已有的模型可照常使用。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="927"/>
        <source>Go online</source>
        <translation>恢复联网</translation>
    </message>
</context>
<context>
    <name>DownloadRow</name>
    <message>
        <location filename="../../autoglm_desktop/qt/models/downloads_page.py" line="79"/>
        <source>Pause</source>
        <translation>暂停</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/downloads_page.py" line="80"/>
        <source>Resume</source>
        <translation>继续</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/downloads_page.py" line="81"/>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/downloads_page.py" line="82"/>
        <source>Retry</source>
        <translation>重试</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/downloads_page.py" line="83"/>
        <source>Hub settings…</source>
        <translation>下载源设置…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/downloads_page.py" line="84"/>
        <source>Use in chat</source>
        <translation>用于对话</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/downloads_page.py" line="85"/>
        <source>Show in folder</source>
        <translation>在文件夹中显示</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/downloads_page.py" line="86"/>
        <source>Remove from list</source>
        <translation>从列表中移除</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/downloads_page.py" line="129"/>
        <source>%1 of %2</source>
        <translation>%1 / %2</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/downloads_page.py" line="150"/>
        <source>%1/s</source>
        <translation>%1/秒</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/downloads_page.py" line="152"/>
        <source>%1 left</source>
        <translation>剩余 %1</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/downloads_page.py" line="155"/>
        <source>part %1 of %2</source>
        <translation>第 %1/%2 部分</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/downloads_page.py" line="135"/>
        <source>Waiting to continue · %1 already here</source>
        <translation>等待继续 · 已下载 %1</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/downloads_page.py" line="136"/>
        <source>Waiting to start · %1</source>
        <translation>等待开始 · %1</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/downloads_page.py" line="138"/>
        <source>Paused · %1</source>
        <translation>已暂停 · %1</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/downloads_page.py" line="140"/>
        <source>Done · %1 · %2</source>
        <translation>已完成 · %1 · %2</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/downloads_page.py" line="142"/>
        <source>Cancelled; the partial file was deleted.</source>
        <translation>已取消，未下载完的文件已删除。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/downloads_page.py" line="143"/>
        <source>The download failed.</source>
        <translation>下载失败。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/downloads_page.py" line="163"/>
        <source>checking the file…</source>
        <translation>正在校验文件…</translation>
    </message>
</context>
<context>
    <name>DownloadsPage</name>
    <message>
        <location filename="../../autoglm_desktop/qt/models/downloads_page.py" line="178"/>
        <source>Downloads</source>
        <translation>下载</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/downloads_page.py" line="180"/>
        <source>Clear finished</source>
        <translation>清除已完成</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/downloads_page.py" line="186"/>
        <source>No downloads yet. Find a model that fits this PC in Discover.</source>
        <translation>还没有下载任务。可在“发现”中找到适合本机的模型。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/downloads_page.py" line="189"/>
        <source>Discover models</source>
        <translation>发现模型</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/downloads_page.py" line="250"/>
        <source>%1 in progress · %2 to go</source>
        <translation>%1 个进行中 · 还剩 %2</translation>
    </message>
</context>
<context>
    <name>EditMessageDialog</name>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/edit_dialog.py" line="45"/>
        <source>Edit message</source>
        <translation>编辑消息</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/edit_dialog.py" line="56"/>
        <source>Send</source>
        <translation>发送</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/edit_dialog.py" line="119"/>
        <location filename="../../autoglm_desktop/qt/chat/edit_dialog.py" line="127"/>
        <source>Long line #%1, %2 characters</source>
        <translation>长行 #%1，%2 个字符</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/edit_dialog.py" line="138"/>
        <source>Loading the message… %1%</source>
        <translation>正在载入消息… %1%</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/edit_dialog.py" line="142"/>
        <source>Sending replaces this message and every message after it.</source>
        <translation>发送后将替换这条消息及其后的所有消息。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/edit_dialog.py" line="145"/>
        <source>Lines too long to edit here are shown in brackets; they are sent as they are.</source>
        <translation>过长而无法在此编辑的行以方括号显示；发送时保持原样。</translation>
    </message>
</context>
<context>
    <name>EmptyState</name>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/empty_state.py" line="70"/>
        <source>Explain a concept</source>
        <translation>解释一个概念</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/empty_state.py" line="71"/>
        <source>Explain in simple words how a rainbow forms.</source>
        <translation>用简单的话解释彩虹是怎么形成的。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/empty_state.py" line="77"/>
        <source>Draft an email</source>
        <translation>起草一封邮件</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/empty_state.py" line="78"/>
        <source>Write a short, friendly email asking my team to move Friday&apos;s meeting to Monday.</source>
        <translation>写一封简短友好的邮件，请团队把周五的会议改到周一。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/empty_state.py" line="85"/>
        <source>Translate a sentence</source>
        <translation>翻译一句话</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/empty_state.py" line="86"/>
        <source>Translate into Chinese: “The weather is lovely today, shall we go for a walk?”</source>
        <translation>翻译成英文：“今天天气真好，我们去散步吧？”</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/empty_state.py" line="93"/>
        <source>Summarise a text</source>
        <translation>总结一段文字</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/empty_state.py" line="94"/>
        <source>Summarise the following text in three bullet points:

</source>
        <translation>用三个要点总结下面这段文字：

</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/empty_state.py" line="188"/>
        <source>How fast is it? Measure this PC…</source>
        <translation>速度如何？测一测这台电脑…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/empty_state.py" line="278"/>
        <source>No model loaded</source>
        <translation>没有加载模型</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/empty_state.py" line="279"/>
        <source>No model on this PC yet</source>
        <translation>这台电脑上还没有模型</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/empty_state.py" line="281"/>
        <source>What can I help with?</source>
        <translation>有什么可以帮你？</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/empty_state.py" line="286"/>
        <source>A model on a remote server: your messages go to that server.</source>
        <translation>远程服务器上的模型：你的消息会发送到那台服务器。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/empty_state.py" line="288"/>
        <source>Loading the model… you can type your first message meanwhile.</source>
        <translation>正在加载模型……你可以先输入第一条消息。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/empty_state.py" line="295"/>
        <source>%1-token context (about %2 words)</source>
        <translation>上下文 %1 词元（约 %2 个英文单词）</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/empty_state.py" line="302"/>
        <source>%1 tokens/s on this PC (measured)</source>
        <translation>在这台电脑上 %1 词元/秒（实测）</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/empty_state.py" line="305"/>
        <source>about %1 tokens/s on this PC (forecast)</source>
        <translation>在这台电脑上约 %1 词元/秒（预估）</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/empty_state.py" line="315"/>
        <source>Pick a model at the top and press Load, or find another one that fits this PC.</source>
        <translation>在上方选择一个模型并点击“加载”，或者找一个适合这台电脑的其他模型。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/empty_state.py" line="318"/>
        <source>Download a model to start chatting: the Models window suggests models that fit this PC and says how fast each will be. Or drop a .gguf file you already have on this window.</source>
        <translation>下载一个模型即可开始聊天：“模型”窗口会推荐适合这台电脑的模型，并告诉你每个模型的速度。也可以把已有的 .gguf 文件拖到这个窗口上。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/empty_state.py" line="324"/>
        <source>The starter model is small and fast, for trying the app. For better answers, get a bigger model that fits this PC.</source>
        <translation>入门模型小而快，用来试用本应用。想要更好的回答，请下载一个适合这台电脑的更大模型。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/empty_state.py" line="331"/>
        <source>Open Models…</source>
        <translation>打开模型…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/empty_state.py" line="333"/>
        <source>Find a model…</source>
        <translation>查找模型…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/empty_state.py" line="334"/>
        <source>Find a better model →</source>
        <translation>查找更好的模型 →</translation>
    </message>
</context>
<context>
    <name>ErrorBanner</name>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="121"/>
        <source>Dismiss</source>
        <translation>关闭</translation>
    </message>
</context>
<context>
    <name>FindBar</name>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/find_bar.py" line="23"/>
        <source>Find in this chat</source>
        <translation>在此对话中查找</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/find_bar.py" line="27"/>
        <source>Older match (Enter)</source>
        <translation>上一个（较早）匹配 (Enter)</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/find_bar.py" line="29"/>
        <source>Newer match (Shift+Enter)</source>
        <translation>下一个（较新）匹配 (Shift+Enter)</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/find_bar.py" line="31"/>
        <source>Close (Esc)</source>
        <translation>关闭 (Esc)</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/find_bar.py" line="45"/>
        <source>No match</source>
        <translation>无匹配</translation>
    </message>
</context>
<context>
    <name>HardwareMeters</name>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/meters.py" line="43"/>
        <source>RAM:</source>
        <translation>内存：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/meters.py" line="44"/>
        <source>Swap:</source>
        <translation>交换空间：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/meters.py" line="45"/>
        <source>CPU:</source>
        <translation>CPU：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/meters.py" line="46"/>
        <source>Model uses:</source>
        <translation>模型占用：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/meters.py" line="63"/>
        <source>none</source>
        <translation>无</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/meters.py" line="72"/>
        <source>%1 RAM</source>
        <translation>内存 %1</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/meters.py" line="74"/>
        <source>no model loaded</source>
        <translation>未加载模型</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/meters.py" line="88"/>
        <source> (model: %1)</source>
        <translation>（模型：%1）</translation>
    </message>
</context>
<context>
    <name>HistoryProblemDialog</name>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/history_dialog.py" line="62"/>
        <source>Chat history problem</source>
        <translation>聊天记录出现问题</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/history_dialog.py" line="68"/>
        <source>Details: %1</source>
        <translation>详细信息：%1</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/history_dialog.py" line="100"/>
        <source>Your chat history file is damaged and cannot be opened. You can recover the conversations that can still be read, or start a new, empty history. Either way the damaged file is kept next to it under a new name; it is never deleted.</source>
        <translation>聊天记录文件已损坏，无法打开。你可以恢复仍可读取的对话，或开始一份新的空白记录。无论哪种方式，损坏的文件都会以新名称保留在原处，绝不会被删除。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/history_dialog.py" line="106"/>
        <source>Your chat history was saved by a newer version of AutoGLM Desktop. Open it read-only to read your conversations (nothing new is saved), or update the app.</source>
        <translation>聊天记录由更新版本的 AutoGLM Desktop 保存。可以只读打开以查看对话（不会保存新内容），或更新本应用。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/history_dialog.py" line="111"/>
        <source>Your chat history is in use by another program (or another AutoGLM Desktop window). Close it and press Retry, or chat without saving for now.</source>
        <translation>聊天记录正被另一个程序（或另一个 AutoGLM Desktop 窗口）占用。请关闭它后点击“重试”，或暂时以不保存的方式聊天。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/history_dialog.py" line="116"/>
        <source>Your chat history cannot be changed: the file or its folder is read-only. You can open it read-only, or chat without saving.</source>
        <translation>聊天记录无法修改：文件或其所在文件夹是只读的。你可以只读打开，或以不保存的方式聊天。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/history_dialog.py" line="121"/>
        <source>The disk holding your chat history is full. Free some space and press Retry, or chat without saving for now.</source>
        <translation>存放聊天记录的磁盘已满。请释放一些空间后点击“重试”，或暂时以不保存的方式聊天。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/history_dialog.py" line="124"/>
        <source>Your chat history could not be opened.</source>
        <translation>无法打开聊天记录。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/history_dialog.py" line="128"/>
        <source>Recover what can be read</source>
        <translation>恢复可读取的内容</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/history_dialog.py" line="129"/>
        <source>Start a fresh history</source>
        <translation>开始新的记录</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/history_dialog.py" line="130"/>
        <source>Retry</source>
        <translation>重试</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/history_dialog.py" line="131"/>
        <source>Open read-only</source>
        <translation>只读打开</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/history_dialog.py" line="132"/>
        <source>Chat without saving</source>
        <translation>不保存，直接聊天</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/history_dialog.py" line="133"/>
        <source>Quit</source>
        <translation>退出</translation>
    </message>
</context>
<context>
    <name>HubSettingsPage</name>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="53"/>
        <source>Settings</source>
        <translation>设置</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="71"/>
        <source>Hub</source>
        <translation>下载源</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="72"/>
        <source>Official: huggingface.co</source>
        <translation>官方：huggingface.co</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="75"/>
        <source>Mirror: hf-mirror.com (where the official hub is blocked, e.g. mainland China)</source>
        <translation>镜像：hf-mirror.com（官方站点无法访问时使用，如中国大陆）</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="78"/>
        <source>Custom address:</source>
        <translation>自定义地址：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="90"/>
        <source>none: the system&apos;s proxy settings (e.g. http://127.0.0.1:7890)</source>
        <translation>留空则使用系统代理设置（例如 http://127.0.0.1:7890）</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="93"/>
        <source>Offline mode: make no network connection at all (no search, no downloads)</source>
        <translation>离线模式：完全不进行网络连接（不搜索、不下载）</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="95"/>
        <source>Apply</source>
        <translation>应用</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="102"/>
        <source>ModelScope&apos;s address; leave it empty for modelscope.cn</source>
        <translation>ModelScope 的地址；留空则使用 modelscope.cn</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="105"/>
        <source>ModelScope address:</source>
        <translation>ModelScope 地址：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="106"/>
        <source>Proxy:</source>
        <translation>代理：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="111"/>
        <source>Where models are searched and downloaded from:</source>
        <translation>搜索和下载模型的来源：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="161"/>
        <source>Saved. Offline mode is on: nothing will be fetched.</source>
        <translation>已保存。已开启离线模式：不会从网络获取任何内容。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="163"/>
        <source>Saved. Models come from %1.</source>
        <translation>已保存。模型将从 %1 获取。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="169"/>
        <source>Access token</source>
        <translation>访问令牌</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="172"/>
        <source>Gated and private models need a Hugging Face access token. Create one at &lt;a href=&apos;%1&apos;&gt;huggingface.co → Settings → Access Tokens&lt;/a&gt; (“read” access is enough), accept the model&apos;s terms on its page, and paste the token here. It is stored on this PC, readable by you only.</source>
        <translation>需授权的模型和私有模型需要 Hugging Face 访问令牌。请在 &lt;a href=&apos;%1&apos;&gt;huggingface.co → Settings → Access Tokens&lt;/a&gt; 创建一个（“read”权限即可），在模型页面上接受其使用条款，然后把令牌粘贴到这里。令牌保存在本机，只有你本人可以读取。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="184"/>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="215"/>
        <source>Save token</source>
        <translation>保存令牌</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="186"/>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="217"/>
        <source>Remove token</source>
        <translation>移除令牌</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="205"/>
        <source>Private ModelScope models need a ModelScope access token, from &lt;a href=&apos;%1&apos;&gt;modelscope.cn → Account → Access Token&lt;/a&gt;.</source>
        <translation>私有的 ModelScope 模型需要 ModelScope 访问令牌，可在 &lt;a href=&apos;%1&apos;&gt;modelscope.cn → 账号 → 访问令牌&lt;/a&gt; 获取。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="213"/>
        <source>ModelScope access token</source>
        <translation>ModelScope 访问令牌</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="249"/>
        <source>A ModelScope token is saved and sent to ModelScope with every request.</source>
        <translation>已保存 ModelScope 令牌，每次请求 ModelScope 时都会发送。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="251"/>
        <source>No ModelScope token saved.</source>
        <translation>未保存 ModelScope 令牌。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="267"/>
        <source>A token is saved and sent to the hub with every request.</source>
        <translation>已保存令牌，每次请求都会发送给下载源。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="269"/>
        <source>No token saved.</source>
        <translation>未保存令牌。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="276"/>
        <source>Library</source>
        <translation>模型库</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="278"/>
        <source>Offer models in the Hugging Face cache</source>
        <translation>列出 Hugging Face 缓存中的模型</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="281"/>
        <source>Offer models that LM Studio, Ollama and GPT4All downloaded (not copied)</source>
        <translation>列出 LM Studio、Ollama 和 GPT4All 已下载的模型（不复制文件）</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="288"/>
        <source>Add folder…</source>
        <translation>添加文件夹…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="290"/>
        <source>Remove folder</source>
        <translation>移除文件夹</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="291"/>
        <source>Its files stay where they are.</source>
        <translation>文件夹中的文件保持原样，不会被删除。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="303"/>
        <source>Your model folders:</source>
        <translation>你的模型文件夹：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/hub_settings_page.py" line="325"/>
        <source>Add a folder of models</source>
        <translation>添加模型文件夹</translation>
    </message>
</context>
<context>
    <name>LibraryPage</name>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="48"/>
        <source>AutoGLM</source>
        <translation>AutoGLM</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="49"/>
        <source>Imported file</source>
        <translation>导入的文件</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="50"/>
        <source>Your folder</source>
        <translation>你的文件夹</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="51"/>
        <source>Hugging Face cache</source>
        <translation>Hugging Face 缓存</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="52"/>
        <source>LM Studio</source>
        <translation>LM Studio</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="53"/>
        <source>GPT4All</source>
        <translation>GPT4All</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="54"/>
        <source>Ollama</source>
        <translation>Ollama</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="88"/>
        <source>My models</source>
        <translation>我的模型</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="90"/>
        <source>Import .gguf file…</source>
        <translation>导入 .gguf 文件…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="92"/>
        <source>Add folder…</source>
        <translation>添加文件夹…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="94"/>
        <source>Refresh</source>
        <translation>刷新</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="105"/>
        <source>Model</source>
        <translation>模型</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="106"/>
        <source>Quant</source>
        <translation>量化</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="107"/>
        <source>Size</source>
        <translation>大小</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="108"/>
        <source>On this PC</source>
        <translation>本机适配</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="109"/>
        <source>Source</source>
        <translation>来源</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="110"/>
        <source>Location</source>
        <translation>位置</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="125"/>
        <source>No models on this PC yet. Download one in Discover, or drop a .gguf file here.</source>
        <translation>本机还没有模型。可在“发现”中下载，或将 .gguf 文件拖放到这里。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="129"/>
        <source>Discover models</source>
        <translation>发现模型</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="132"/>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="330"/>
        <source>Use in chat</source>
        <translation>用于对话</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="134"/>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="331"/>
        <source>Show in folder</source>
        <translation>在文件夹中显示</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="136"/>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="338"/>
        <source>Delete…</source>
        <translation>删除…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="138"/>
        <source>Tip: drop .gguf files here to add them.</source>
        <translation>提示：将 .gguf 文件拖放到这里即可添加。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="177"/>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="370"/>
        <source>Looking for models…</source>
        <translation>正在查找模型…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="203"/>
        <source>%1 models · %2 · from %3</source>
        <translation>%1 个模型 · %2 · 来自 %3</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="220"/>
        <source>(%1 parts)</source>
        <translation>（%1 个分片）</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="269"/>
        <source>Ollama shares its files between models; remove it with Ollama.</source>
        <translation>Ollama 的多个模型共用文件，请在 Ollama 中删除。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="293"/>
        <source>Deleting %1…</source>
        <translation>正在删除 %1…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="299"/>
        <source>It is removed from the Hugging Face cache.</source>
        <translation>它将从 Hugging Face 缓存中移除。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="300"/>
        <source>LM Studio will no longer have it either.</source>
        <translation>LM Studio 中也将不再有此模型。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="301"/>
        <source>GPT4All will no longer have it either.</source>
        <translation>GPT4All 中也将不再有此模型。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="305"/>
        <source>Delete “%1” (%2) from this PC?

%3

%4This cannot be undone.</source>
        <translation>要从本机删除“%1”（%2）吗？

%3

%4此操作无法撤销。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="314"/>
        <source>Delete model</source>
        <translation>删除模型</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="318"/>
        <source>Delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="334"/>
        <source>Remove from list (keep the file)</source>
        <translation>从列表中移除（保留文件）</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="343"/>
        <source>Deleted %1 (%2 freed).</source>
        <translation>已删除 %1（释放了 %2）。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="358"/>
        <source>Import GGUF models</source>
        <translation>导入 GGUF 模型</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="360"/>
        <source>GGUF models (*.gguf);;All files (*)</source>
        <translation>GGUF 模型 (*.gguf);;所有文件 (*)</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="367"/>
        <source>Add a folder of models</source>
        <translation>添加模型文件夹</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="376"/>
        <source>Adding %1…</source>
        <translation>正在添加 %1…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/library_page.py" line="381"/>
        <source>Added %1.</source>
        <translation>已添加 %1。</translation>
    </message>
</context>
<context>
    <name>LocalServerPage</name>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="94"/>
        <source>Serve the model</source>
        <translation>提供模型服务</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="99"/>
        <source>Port</source>
        <translation>端口</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="100"/>
        <source>Allow other devices on the network</source>
        <translation>允许网络上的其他设备访问</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="104"/>
        <source>API key</source>
        <translation>API 密钥</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="105"/>
        <source>Generate</source>
        <translation>生成</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="106"/>
        <source>Make a new random key</source>
        <translation>生成一个新的随机密钥</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="107"/>
        <source>Copy key</source>
        <translation>复制密钥</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="111"/>
        <source>Turn the server off to change these.</source>
        <translation>关闭服务器后才能修改这些设置。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="116"/>
        <source>Copy address</source>
        <translation>复制地址</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="122"/>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="123"/>
        <source>Copy the command</source>
        <translation>复制这条命令</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="131"/>
        <source>Clear</source>
        <translation>清空</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="141"/>
        <source>Local server</source>
        <translation>本地服务器</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="151"/>
        <source>Serve the loaded model to other programs through the OpenAI API: any OpenAI client, editor plug-in or script can use it. Your chats and their requests take turns on the same model.</source>
        <translation>通过 OpenAI API 把已加载的模型提供给其他程序：任何 OpenAI 客户端、编辑器插件或脚本都能使用。你的聊天和它们的请求轮流使用同一个模型。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="159"/>
        <source>Settings</source>
        <translation>设置</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="161"/>
        <source>Port:</source>
        <translation>端口：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="170"/>
        <source>API key:</source>
        <translation>API 密钥：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="175"/>
        <source>Use it</source>
        <translation>使用方法</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="180"/>
        <source>Try it from a terminal:</source>
        <translation>在终端中试一试：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="188"/>
        <source>Requests</source>
        <translation>请求</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="268"/>
        <source>Other devices may use the model only with an API key: type one or press Generate, then turn the server on.</source>
        <translation>其他设备必须使用 API 密钥才能访问模型：请输入一个密钥或点击“生成”，然后再打开服务器。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="293"/>
        <source>Running at %1</source>
        <translation>正在运行：%1</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="298"/>
        <source>Starting…</source>
        <translation>正在启动…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="301"/>
        <source>Stopping…</source>
        <translation>正在停止…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="304"/>
        <source>Off: other programs cannot reach the model.</source>
        <translation>已关闭：其他程序无法访问模型。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="312"/>
        <source>Port %1 is in use by another program. Choose another port, or close that program, then turn the server on again.</source>
        <translation>端口 %1 已被其他程序占用。请换一个端口，或关闭那个程序，然后重新打开服务器。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="316"/>
        <source>The server could not start: %1</source>
        <translation>服务器无法启动：%1</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="340"/>
        <source>Stored; type a new key to replace it</source>
        <translation>已保存；输入新密钥可替换</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="342"/>
        <source>Needed for other devices</source>
        <translation>其他设备访问时需要</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="344"/>
        <source>Programs on other devices must send it as &apos;Authorization: Bearer KEY&apos;.</source>
        <translation>其他设备上的程序须以“Authorization: Bearer 密钥”的形式发送它。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="351"/>
        <source>The key is kept in the system keyring (%1), never in a file.</source>
        <translation>密钥保存在系统密钥环（%1）中，从不写入文件。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="355"/>
        <source>This computer has no usable system keyring: the key is kept in memory until the app closes.</source>
        <translation>这台电脑没有可用的系统密钥环：密钥只保存在内存中，直到应用关闭。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="404"/>
        <source>On this computer: %1</source>
        <translation>本机：%1</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="410"/>
        <source>From other devices: %1</source>
        <translation>其他设备：%1</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="412"/>
        <source>From other devices: this computer&apos;s network address</source>
        <translation>其他设备：使用这台电脑的网络地址</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="426"/>
        <source>No model is loaded: until one is, the server answers every request with “503 model not loaded”.</source>
        <translation>尚未加载模型：在加载之前，服务器对每个请求都回答“503 未加载模型”。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="432"/>
        <source>Model name for requests: %1</source>
        <translation>请求中使用的模型名称：%1</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="443"/>
        <source>No requests: the server is off.</source>
        <translation>没有请求：服务器已关闭。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="451"/>
        <source>No model is loaded: requests are refused.</source>
        <translation>尚未加载模型：请求会被拒绝。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="453"/>
        <source>Answering: %1 · Waiting: %2</source>
        <translation>正在回答：%1 · 等待中：%2</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="458"/>
        <source>your chat&apos;s reply is being written</source>
        <translation>你的聊天回复正在生成</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/page.py" line="460"/>
        <source>your chat&apos;s reply waits its turn</source>
        <translation>你的聊天回复正在排队</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="338"/>
        <source>Find in chat…</source>
        <translation>在对话中查找…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="208"/>
        <source>Chat settings…</source>
        <translation>对话设置…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="238"/>
        <source>Models…</source>
        <translation>模型…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="239"/>
        <source>Find, download and manage models</source>
        <translation>查找、下载和管理模型</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="242"/>
        <source>Model settings</source>
        <translation>模型设置</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="267"/>
        <source>Settings</source>
        <translation>模型设置</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="277"/>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="747"/>
        <source>Local server</source>
        <translation>本地服务器</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="303"/>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="647"/>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="805"/>
        <source>No model loaded</source>
        <translation>未加载模型</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="324"/>
        <source>&amp;Chat</source>
        <translation>对话(&amp;C)</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="326"/>
        <source>New chat</source>
        <translation>新对话</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="329"/>
        <source>Export chat…</source>
        <translation>导出对话…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="334"/>
        <source>Quit</source>
        <translation>退出</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="343"/>
        <source>&amp;Models</source>
        <translation>模型(&amp;M)</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="344"/>
        <source>Discover models…</source>
        <translation>发现模型…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="345"/>
        <source>Downloads</source>
        <translation>下载</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="346"/>
        <source>My models</source>
        <translation>我的模型</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="348"/>
        <source>Local server…</source>
        <translation>本地服务器…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="448"/>
        <source>No model found in %1. Open “Models…” to download one, or import a .gguf file you already have.</source>
        <translation>在 %1 中没有找到模型。请打开“模型…”下载一个，或导入你已有的 .gguf 文件。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="556"/>
        <source>%1 was not loaded: %2 Open “Model settings” to choose a smaller plan, or press Load to load it anyway.</source>
        <translation>未加载 %1：%2 请打开“模型设置”选择占用更小的方案，或点击“加载”强制加载。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="586"/>
        <source>Loading %1…</source>
        <translation>正在加载 %1…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="740"/>
        <source>Serving on port %1</source>
        <translation>正在端口 %1 上提供服务</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="742"/>
        <source>Other programs can use the model at %1</source>
        <translation>其他程序可以通过 %1 使用该模型</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="749"/>
        <source>Serve the loaded model to other programs through the OpenAI API</source>
        <translation>通过 OpenAI API 把已加载的模型提供给其他程序</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="765"/>
        <source>%1 (unloaded while idle)</source>
        <translation>%1（空闲时已卸载）</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="778"/>
        <source>%1 (engine stopped; reloads with your next message)</source>
        <translation>%1（引擎已停止，发送下一条消息时会重新加载）</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="823"/>
        <source>%1 (hung while loading; Load to try again)</source>
        <translation>%1（加载时卡住；点击“加载”重试）</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="992"/>
        <source>Chats in this window are not saved: your chat history could not be opened.</source>
        <translation>此窗口中的聊天不会被保存：无法打开聊天记录。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="996"/>
        <source>Recovering your chat history…</source>
        <translation>正在恢复聊天记录…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="1017"/>
        <source>A fresh chat history was started. The old file is kept as %1.</source>
        <translation>已开始新的聊天记录。旧文件保留为 %1。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="1031"/>
        <source>Recovered %1 conversation(s) and %2 message(s). The damaged file is kept as %3.</source>
        <translation>已恢复 %1 个对话和 %2 条消息。损坏的文件保留为 %3。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="1063"/>
        <source>Your chat history is open read-only: you can read your conversations, but nothing new is saved.</source>
        <translation>聊天记录以只读方式打开：你可以查看对话，但不会保存新内容。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="1071"/>
        <source>%1 (chats are not saved)</source>
        <translation>%1（聊天不会被保存）</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="1073"/>
        <source>%1 (read-only history)</source>
        <translation>%1（只读记录）</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="767"/>
        <source>The model was unloaded to free memory; it reloads with your next message.</source>
        <translation>模型已卸载以释放内存，发送下一条消息时会自动重新加载。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="796"/>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="873"/>
        <source>context %1</source>
        <translation>上下文 %1</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="865"/>
        <source>first token %1 s · %2 tokens/s</source>
        <translation>首个 token %1 秒 · 每秒 %2 个 token</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="939"/>
        <source>Export chat</source>
        <translation>导出对话</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="941"/>
        <source>Markdown (*.md);;JSON (*.json)</source>
        <translation>Markdown (*.md);;JSON (*.json)</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="950"/>
        <source>Exported to %1</source>
        <translation>已导出到 %1</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="641"/>
        <source>%1 (remote)</source>
        <translation>%1（远程）</translation>
    </message>
</context>
<context>
    <name>MarkdownRender</name>
    <message>
        <location filename="../../autoglm_desktop/qt/common/markdown_render.py" line="77"/>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
</context>
<context>
    <name>Meter</name>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/meters.py" line="27"/>
        <source>unknown</source>
        <translation>未知</translation>
    </message>
</context>
<context>
    <name>ModelBar</name>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/model_bar.py" line="43"/>
        <source>Models found on this computer, and remote servers&apos; models</source>
        <translation>本机上找到的模型，以及远程服务器的模型</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/model_bar.py" line="44"/>
        <location filename="../../autoglm_desktop/qt/chat/model_bar.py" line="186"/>
        <source>Load</source>
        <translation>加载</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/model_bar.py" line="49"/>
        <source>Loading… %p%</source>
        <translation>加载中… %p%</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/model_bar.py" line="54"/>
        <source>Model:</source>
        <translation>模型：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/model_bar.py" line="115"/>
        <source>No models found</source>
        <translation>没有找到模型</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/model_bar.py" line="182"/>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/model_bar.py" line="184"/>
        <source>Unload</source>
        <translation>卸载</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/model_bar.py" line="189"/>
        <source>loaded</source>
        <translation>已加载</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/model_bar.py" line="106"/>
        <source>%1 — %2 (remote)</source>
        <translation>%1 — %2（远程）</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/model_bar.py" line="179"/>
        <source>remote: no loading needed</source>
        <translation>远程：无需加载</translation>
    </message>
</context>
<context>
    <name>ModelWidgets</name>
    <message>
        <location filename="../../autoglm_desktop/qt/models/widgets.py" line="90"/>
        <source>today</source>
        <translation>今天</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/widgets.py" line="92"/>
        <source>yesterday</source>
        <translation>昨天</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/widgets.py" line="94"/>
        <source>%1 days ago</source>
        <translation>%1 天前</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/widgets.py" line="96"/>
        <source>a month ago</source>
        <translation>1 个月前</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/widgets.py" line="98"/>
        <source>%1 months ago</source>
        <translation>%1 个月前</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/widgets.py" line="102"/>
        <source>a year ago</source>
        <translation>1 年前</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/widgets.py" line="103"/>
        <source>%1 years ago</source>
        <translation>%1 年前</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/widgets.py" line="113"/>
        <source>%1 s</source>
        <translation>%1 秒</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/widgets.py" line="117"/>
        <source>%1 min</source>
        <translation>%1 分钟</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/widgets.py" line="122"/>
        <source>%1 h %2 min</source>
        <translation>%1 小时 %2 分钟</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/widgets.py" line="131"/>
        <source>ModelScope</source>
        <translation>魔搭 ModelScope</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/widgets.py" line="138"/>
        <source>Fits on GPU</source>
        <translation>GPU 运行</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/widgets.py" line="139"/>
        <source>Partial offload</source>
        <translation>部分 GPU</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/widgets.py" line="140"/>
        <source>Fits in RAM</source>
        <translation>内存运行</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/widgets.py" line="141"/>
        <source>Too big</source>
        <translation>太大</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/widgets.py" line="147"/>
        <source>Fits on the GPU: the whole model runs there, fastest.</source>
        <translation>可放入 GPU：整个模型都在 GPU 上运行，速度最快。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/widgets.py" line="150"/>
        <source>Fits with partial GPU offload: some layers on the GPU, the rest on CPU.</source>
        <translation>可部分放入 GPU：一部分层在 GPU 上运行，其余在 CPU 上运行。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/widgets.py" line="154"/>
        <source>Fits in RAM: runs on the CPU only (no GPU room for it).</source>
        <translation>可放入内存：仅在 CPU 上运行（GPU 放不下）。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/widgets.py" line="157"/>
        <source>Too big for this PC: it would not fit in the memory free now.</source>
        <translation>对本机来说太大：当前可用内存放不下。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/widgets.py" line="171"/>
        <source>%1 · %2 context</source>
        <translation>%1 · %2 上下文</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/widgets.py" line="207"/>
        <source>Needs about %1 of memory with a context of %2 tokens.</source>
        <translation>上下文为 %2 个 token 时约需 %1 内存。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/widgets.py" line="217"/>
        <source>About %1% of the model on the GPU.</source>
        <translation>约 %1% 的模型在 GPU 上。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/widgets.py" line="223"/>
        <source>Estimated from %1.</source>
        <translation>估算依据：%1。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/common/speed_text.py" line="13"/>
        <source>~%1 tok/s</source>
        <translation>约 %1 词元/秒</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/common/speed_text.py" line="18"/>
        <source>On this PC it should write about %1 tokens per second and read prompts at about %2 tokens per second (a forecast from this PC&apos;s measured speed).</source>
        <translation>在这台电脑上，预计每秒生成约 %1 个词元，读取提示词约每秒 %2 个词元（根据本机实测速度预测）。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/common/speed_text.py" line="33"/>
        <source>This model should write only about %1 tokens per second on this PC: a 300-word answer would take about %2 min. A smaller file or model will feel much faster. Download it anyway?</source>
        <translation>这个模型在这台电脑上预计每秒只能生成约 %1 个词元：一段 300 词的回答大约需要 %2 分钟。更小的文件或模型会快得多。仍要下载吗？</translation>
    </message>
</context>
<context>
    <name>ModelsWindow</name>
    <message>
        <location filename="../../autoglm_desktop/qt/models/window.py" line="53"/>
        <source>Models — %1</source>
        <translation>模型 — %1</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/window.py" line="104"/>
        <source>Discover</source>
        <translation>发现</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/window.py" line="105"/>
        <source>Downloads</source>
        <translation>下载</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/window.py" line="106"/>
        <source>My models</source>
        <translation>我的模型</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/window.py" line="107"/>
        <source>Settings</source>
        <translation>设置</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/window.py" line="157"/>
        <source>Offline mode: no network connections</source>
        <translation>离线模式：不进行网络连接</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/window.py" line="161"/>
        <source>Hub: %1</source>
        <translation>下载源：%1</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/window.py" line="165"/>
        <source>proxy %1</source>
        <translation>代理 %1</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/window.py" line="183"/>
        <source>%1 is already downloaded.</source>
        <translation>%1 已下载。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/window.py" line="190"/>
        <source>Downloading %1: see Downloads for its progress.</source>
        <translation>正在下载 %1：可在“下载”中查看进度。</translation>
    </message>
</context>
<context>
    <name>PromptEdit</name>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/prompt_edit.py" line="26"/>
        <source>Type a message — Enter to send, Shift+Enter for a new line, Esc to stop</source>
        <translation>输入消息 — Enter 发送，Shift+Enter 换行，Esc 停止</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/prompt_edit.py" line="48"/>
        <source>Pasted text #%1, %2 characters</source>
        <translation>粘贴的文本 #%1，%2 个字符</translation>
    </message>
</context>
<context>
    <name>ReasoningSection</name>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/reasoning_section.py" line="26"/>
        <source>Thoughts</source>
        <translation>思考过程</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/reasoning_section.py" line="29"/>
        <source>Thought for %1 s</source>
        <translation>已思考 %1 秒</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/reasoning_section.py" line="32"/>
        <source>Thought for %1 min %2 s</source>
        <translation>已思考 %1 分 %2 秒</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/reasoning_section.py" line="38"/>
        <source>Thinking…</source>
        <translation>思考中…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/reasoning_section.py" line="69"/>
        <source>Copy thinking</source>
        <translation>复制思考过程</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/reasoning_section.py" line="98"/>
        <source>… the rest of the thinking shows when the reply is finished.</source>
        <translation>… 其余的思考内容将在回复完成后显示。</translation>
    </message>
</context>
<context>
    <name>RemoteServersSection</name>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/remote_servers.py" line="53"/>
        <source>Remote servers</source>
        <translation>远程服务器</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/remote_servers.py" line="64"/>
        <source>Chat with models on another machine through any OpenAI-compatible server (vLLM, SGLang, llama-server, Ollama, LM Studio…). A server is contacted only when you choose one of its models or test it.</source>
        <translation>通过任何兼容 OpenAI 的服务器（vLLM、SGLang、llama-server、Ollama、LM Studio…）与另一台机器上的模型对话。只有在你选用它的模型或测试连接时，才会连接服务器。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/remote_servers.py" line="73"/>
        <source>Add</source>
        <translation>添加</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/remote_servers.py" line="74"/>
        <source>Remove</source>
        <translation>移除</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/remote_servers.py" line="76"/>
        <source>GPU box</source>
        <translation>GPU 服务器</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/remote_servers.py" line="84"/>
        <source>Test connection</source>
        <translation>测试连接</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/remote_servers.py" line="85"/>
        <source>Save</source>
        <translation>保存</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/remote_servers.py" line="102"/>
        <source>Name:</source>
        <translation>名称：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/remote_servers.py" line="103"/>
        <source>Address:</source>
        <translation>地址：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/remote_servers.py" line="104"/>
        <source>API key:</source>
        <translation>API 密钥：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/remote_servers.py" line="143"/>
        <source>Enter a name and the server&apos;s address, then Save.</source>
        <translation>输入名称和服务器地址，然后点“保存”。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/remote_servers.py" line="165"/>
        <source>Saved.</source>
        <translation>已保存。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/remote_servers.py" line="167"/>
        <source>Press Test connection to list its models.</source>
        <translation>点“测试连接”列出它的模型。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/remote_servers.py" line="187"/>
        <source>Removed %1.</source>
        <translation>已移除 %1。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/remote_servers.py" line="204"/>
        <source>Connecting to %1…</source>
        <translation>正在连接 %1…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/remote_servers.py" line="239"/>
        <source>Connected in %1 s. Models (%2): %3</source>
        <translation>已连接，用时 %1 秒。模型（%2 个）：%3</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/remote_servers.py" line="251"/>
        <source>They are in the model picker now.</source>
        <translation>它们已出现在模型选择框中。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/remote_servers.py" line="253"/>
        <source>Save to add them to the model picker.</source>
        <translation>保存后它们会出现在模型选择框中。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/remote_servers.py" line="275"/>
        <source>%1 — models: %2</source>
        <translation>%1 — 模型：%2 个</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/remote_servers.py" line="303"/>
        <source>Stored; type a new key to replace it</source>
        <translation>已保存；输入新密钥可替换</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/remote_servers.py" line="305"/>
        <source>Optional</source>
        <translation>可选</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/remote_servers.py" line="307"/>
        <source>Leave empty if the server needs no key. The key is never shown again.</source>
        <translation>服务器不需要密钥时留空。密钥保存后不会再显示。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/remote_servers.py" line="312"/>
        <source>Keys are kept in the system keyring (%1), never in a file.</source>
        <translation>密钥保存在系统密钥环（%1）中，从不写入文件。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/remote_servers.py" line="322"/>
        <source>This computer has no system keyring: keys are kept in memory until the app closes, and you will be asked for them again next time.</source>
        <translation>这台电脑没有系统密钥环：密钥只保存在内存中，直到应用关闭，下次需要重新输入。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/remote_servers.py" line="326"/>
        <source>The system keyring failed (%1): keys are kept in memory until the app closes, and you will be asked for them again next time.</source>
        <translation>系统密钥环出错（%1）：密钥只保存在内存中，直到应用关闭，下次需要重新输入。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/remote_servers.py" line="345"/>
        <source>Remove server</source>
        <translation>移除服务器</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/remote_servers.py" line="347"/>
        <source>Remove %1 and forget its API key? Conversations with its models stay in the history.</source>
        <translation>移除 %1 并删除它的 API 密钥？与它的模型的对话仍保留在历史记录中。</translation>
    </message>
</context>
<context>
    <name>RepoDetailView</name>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="196"/>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="258"/>
        <source>Pick a model on the left to see its files and how well each fits this PC.</source>
        <translation>在左侧选择一个模型，即可查看它的文件以及各文件与本机的适配情况。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="220"/>
        <source>Quantization</source>
        <translation>量化</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="220"/>
        <source>Size</source>
        <translation>大小</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="220"/>
        <source>On this PC</source>
        <translation>本机适配</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="220"/>
        <source>Needs</source>
        <translation>所需内存</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="233"/>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="310"/>
        <source>Loading the model card…</source>
        <translation>正在加载模型卡片…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="266"/>
        <source>Loading %1…</source>
        <translation>正在加载 %1…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="275"/>
        <source>Try again</source>
        <translation>重试</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="277"/>
        <source>Hub settings…</source>
        <translation>下载源设置…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="292"/>
        <source>%1 downloads</source>
        <translation>%1 次下载</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="293"/>
        <source>%1 likes</source>
        <translation>%1 个赞</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="296"/>
        <source>updated %1</source>
        <translation>更新于 %1</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="298"/>
        <source>licence: %1</source>
        <translation>许可证：%1</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="336"/>
        <source>This model has no description.</source>
        <translation>此模型没有说明。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="341"/>
        <source>★ the best choice for this PC</source>
        <translation>★ 本机的最佳选择</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="343"/>
        <source>This repository has no GGUF chat model files.</source>
        <translation>此仓库中没有 GGUF 对话模型文件。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="348"/>
        <source>Vision projector files are not chat models and are not offered here: %1</source>
        <translation>视觉投影器文件不是对话模型，此处不提供：%1</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="353"/>
        <source>Split models with parts missing on the hub (not offered): %1</source>
        <translation>下载源上缺少分片的分卷模型（不提供）：%1</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="394"/>
        <source>unknown</source>
        <translation>未知</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="397"/>
        <source>Recommended for this PC</source>
        <translation>为本机推荐</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="481"/>
        <source>Download anyway</source>
        <translation>仍然下载</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="482"/>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="374"/>
        <source>(%1 parts)</source>
        <translation>（%1 个分片）</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="452"/>
        <source>Use</source>
        <translation>使用</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="455"/>
        <source>Downloading %1%</source>
        <translation>下载中 %1%</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="458"/>
        <source>Queued</source>
        <translation>排队中</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="460"/>
        <source>Resume</source>
        <translation>继续</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="462"/>
        <source>Download</source>
        <translation>下载</translation>
    </message>
</context>
<context>
    <name>RequestLogTable</name>
    <message>
        <location filename="../../autoglm_desktop/qt/server/request_log.py" line="28"/>
        <source>Time</source>
        <translation>时间</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/request_log.py" line="29"/>
        <source>Method</source>
        <translation>方法</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/request_log.py" line="30"/>
        <source>Path</source>
        <translation>路径</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/request_log.py" line="31"/>
        <source>Status</source>
        <translation>状态</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/request_log.py" line="32"/>
        <location filename="../../autoglm_desktop/qt/server/request_log.py" line="48"/>
        <source>Tokens</source>
        <translation>Token 数</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/request_log.py" line="33"/>
        <source>Duration</source>
        <translation>耗时</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/request_log.py" line="49"/>
        <source>Tokens the model read (the prompt) → tokens it wrote</source>
        <translation>模型读取的 token（提示）→ 模型写出的 token</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/server/request_log.py" line="67"/>
        <source>From %1</source>
        <translation>来自 %1</translation>
    </message>
</context>
<context>
    <name>SettingsPane</name>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/pane.py" line="122"/>
        <source>Load settings</source>
        <translation>加载设置</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/pane.py" line="125"/>
        <source>Threads (auto)</source>
        <translation>线程数（自动）</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/pane.py" line="126"/>
        <source>GPU layers (auto)</source>
        <translation>GPU 层数（自动）</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/pane.py" line="127"/>
        <source>Context (auto)</source>
        <translation>上下文（自动）</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/pane.py" line="128"/>
        <source>KV cache (auto)</source>
        <translation>KV 缓存（自动）</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/pane.py" line="130"/>
        <location filename="../../autoglm_desktop/qt/settings/pane.py" line="413"/>
        <location filename="../../autoglm_desktop/qt/settings/pane.py" line="427"/>
        <source>Measure the fastest thread count</source>
        <translation>测量最快的线程数</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/pane.py" line="133"/>
        <source>Decodes a few dozen tokens at each thread count (a few seconds) and remembers the fastest for this model on this computer.</source>
        <translation>在每种线程数下各解码几十个 token（需要几秒钟），并为本机上的这个模型记住最快的线程数。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/pane.py" line="153"/>
        <source>RAM:</source>
        <translation>内存：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/pane.py" line="157"/>
        <source>Apply and reload</source>
        <translation>应用并重新加载</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/pane.py" line="159"/>
        <source>Predicted memory</source>
        <translation>预计内存占用</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/pane.py" line="169"/>
        <source>Release memory when idle for</source>
        <translation>空闲多久后释放内存：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/pane.py" line="170"/>
        <source> min</source>
        <translation> 分钟</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/pane.py" line="178"/>
        <source>This computer now</source>
        <translation>本机当前状态</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/pane.py" line="183"/>
        <source>No model selected</source>
        <translation>未选择模型</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/pane.py" line="256"/>
        <source>llama.cpp can use: %1</source>
        <translation>llama.cpp 可使用：%1</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/pane.py" line="258"/>
        <source>This llama.cpp build runs on the CPU only; GPUs are not used.</source>
        <translation>此 llama.cpp 版本仅在 CPU 上运行，不使用 GPU。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/pane.py" line="316"/>
        <location filename="../../autoglm_desktop/qt/settings/pane.py" line="332"/>
        <source>%1 of %2 free</source>
        <translation>需 %1 / 可用 %2</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/pane.py" line="335"/>
        <source>Will not fit: </source>
        <translation>内存不足：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/pane.py" line="380"/>
        <location filename="../../autoglm_desktop/qt/settings/pane.py" line="396"/>
        <source>Cancel measuring</source>
        <translation>取消测量</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/pane.py" line="382"/>
        <source>Cancelling after the current run…</source>
        <translation>将在本轮测量结束后取消…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/pane.py" line="398"/>
        <source>Measuring %1 thread counts…</source>
        <translation>正在测量 %1 种线程数…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/pane.py" line="407"/>
        <source>%1 threads: %2 tokens/s</source>
        <translation>%1 线程：每秒 %2 个 token</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/pane.py" line="415"/>
        <source>Measuring was cancelled; nothing was changed.</source>
        <translation>已取消测量，未做任何更改。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/pane.py" line="420"/>
        <source>Fastest: %1 threads (remembered for this model and computer).</source>
        <translation>最快：%1 线程（已为此模型和本机记住）。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/pane.py" line="445"/>
        <source>This plan needs more memory than this computer has free right now:

%1

Loading it anyway may make the computer swap and slow down, or the model may be stopped by the system; your chats stay safe either way. Load anyway?</source>
        <translation>此方案所需内存超过本机当前可用内存：

%1

强制加载可能导致系统使用交换空间而变慢，也可能导致模型被系统终止；无论哪种情况，你的对话都不会丢失。仍要加载吗？</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/pane.py" line="453"/>
        <source>Model may not fit</source>
        <translation>内存可能不足</translation>
    </message>
</context>
<context>
    <name>SpeedTestBox</name>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/speed_test.py" line="23"/>
        <source>Speed of this PC</source>
        <translation>本机速度</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/speed_test.py" line="54"/>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/speed_test.py" line="55"/>
        <source>Timing llama.cpp on small test models…</source>
        <translation>正在用小型测试模型测量 llama.cpp 的速度…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/speed_test.py" line="64"/>
        <source>Cancelling…</source>
        <translation>正在取消…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/speed_test.py" line="87"/>
        <source>Measuring was cancelled; nothing was changed.</source>
        <translation>测量已取消，未做任何更改。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/speed_test.py" line="96"/>
        <source>Try again</source>
        <translation>重试</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/speed_test.py" line="97"/>
        <source>The speed could not be measured: %1</source>
        <translation>无法测量速度：%1</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/speed_test.py" line="103"/>
        <source>Not measured yet. Measure once (a few minutes) to see how fast each model will write on this PC, in the Models window and before a download.</source>
        <translation>尚未测量。测量一次（需几分钟）后，即可在模型窗口和下载前看到每个模型在本机上的生成速度。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/speed_test.py" line="107"/>
        <source>Measure speed</source>
        <translation>测量速度</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/speed_test.py" line="111"/>
        <source>Measured on %1. Speed forecasts show beside each model.</source>
        <translation>已于 %1 测量。速度预测显示在每个模型旁边。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/settings/speed_test.py" line="113"/>
        <source>Measure again</source>
        <translation>重新测量</translation>
    </message>
</context>
<context>
    <name>ThinkSwitch</name>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/think_switch.py" line="27"/>
        <source>Think</source>
        <translation>思考</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/think_switch.py" line="29"/>
        <source>Let the model think before it answers: slower, often better answers</source>
        <translation>让模型先思考再回答：速度较慢，但回答往往更好</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/think_switch.py" line="32"/>
        <source>How long the model reasons before it answers</source>
        <translation>模型在回答前推理的深度</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/think_switch.py" line="34"/>
        <source>Think: low</source>
        <translation>思考：低</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/think_switch.py" line="35"/>
        <source>Think: medium</source>
        <translation>思考：中</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat/think_switch.py" line="36"/>
        <source>Think: high</source>
        <translation>思考：高</translation>
    </message>
</context>
<context>
    <name>TokenPrompt</name>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="126"/>
        <source>Paste an access token (hf_…)</source>
        <translation>粘贴访问令牌（hf_…）</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="127"/>
        <source>Save token</source>
        <translation>保存令牌</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="147"/>
        <source>&lt;b&gt;This model is gated.&lt;/b&gt; Its authors ask you to accept their terms before downloading: open &lt;a href=&apos;%1&apos;&gt;its page on the hub&lt;/a&gt;, accept them, then create an access token (hub → Settings → Access Tokens, “read” is enough) and paste it here.</source>
        <translation>&lt;b&gt;此模型需要授权。&lt;/b&gt;作者要求下载前先接受其使用条款：请打开&lt;a href=&apos;%1&apos;&gt;模型页面&lt;/a&gt;接受条款，然后创建访问令牌（Hugging Face → Settings → Access Tokens，“read”权限即可）并粘贴到这里。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="154"/>
        <source>A token is saved and will be sent with the download.</source>
        <translation>已保存令牌，下载时会一并发送。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/models/discover_page.py" line="171"/>
        <source>Token saved. Downloads of this model can start now.</source>
        <translation>令牌已保存，现在可以开始下载此模型。</translation>
    </message>
</context>
</TS>
