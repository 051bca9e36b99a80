<?xml version='1.0' encoding='utf-8'?>
<TS version="2.1" language="zh_CN">
<context>
    <name>ChatController</name>
    <message>
        <location filename="../../autoglm_desktop/qt/chat_controller.py" line="188" />
        <location filename="../../autoglm_desktop/qt/chat_controller.py" line="272" />
        <source>Assistant</source>
        <translation>助手</translation>
    </message>
    <message numerus="yes">
        <location filename="../../autoglm_desktop/qt/chat_controller.py" line="251" />
        <source>%n earlier message(s) did not fit in the model's context and were left out of this reply (they are still saved here).</source>
        <translation><numerusform>有 %n 条较早的消息超出了模型的上下文，本次回复未使用它们（它们仍保存在这里）。</numerusform></translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat_controller.py" line="270" />
        <source>You</source>
        <translation>你</translation>
    </message>
</context>
<context>
    <name>ChatView</name>
    <message>
        <location filename="../../autoglm_desktop/qt/chat_view.py" line="261" />
        <location filename="../../autoglm_desktop/qt/chat_view.py" line="329" />
        <location filename="../../autoglm_desktop/qt/chat_view.py" line="345" />
        <location filename="../../autoglm_desktop/qt/chat_view.py" line="352" />
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat_view.py" line="300" />
        <location filename="../../autoglm_desktop/qt/chat_view.py" line="347" />
        <source>Regenerate</source>
        <translation>重新生成</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat_view.py" line="329" />
        <source>Edit</source>
        <translation>编辑</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat_view.py" line="338" />
        <source>You</source>
        <translation>你</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat_view.py" line="357" />
        <source>— reply failed</source>
        <translation>— 回复失败</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat_view.py" line="359" />
        <source>— reply interrupted</source>
        <translation>— 回复已中断</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat_view.py" line="360" />
        <source>Assistant</source>
        <translation>助手</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat_view.py" line="364" />
        <source>System</source>
        <translation>系统</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat_view.py" line="422" />
        <source>Code copied to the clipboard</source>
        <translation>代码已复制到剪贴板</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/chat_view.py" line="431" />
        <source>Message copied to the clipboard</source>
        <translation>消息已复制到剪贴板</translation>
    </message>
</context>
<context>
    <name>ConversationListModel</name>
    <message numerus="yes">
        <location filename="../../autoglm_desktop/qt/conversation_list.py" line="58" />
        <source>%n message(s), last active %1</source>
        <translation><numerusform>%n 条消息，最近活动 %1</numerusform></translation>
    </message>
</context>
<context>
    <name>ConversationSettingsDialog</name>
    <message>
        <location filename="../../autoglm_desktop/qt/conversation_settings.py" line="24" />
        <source>Chat settings</source>
        <translation>对话设置</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/conversation_settings.py" line="26" />
        <source>e.g. You are a concise assistant.</source>
        <translation>例如：你是一个简洁的助手。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/conversation_settings.py" line="34" />
        <source>random</source>
        <translation>随机</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/conversation_settings.py" line="36" />
        <source>System prompt:</source>
        <translation>系统提示词：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/conversation_settings.py" line="37" />
        <source>Temperature:</source>
        <translation>温度：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/conversation_settings.py" line="38" />
        <source>Top-p:</source>
        <translation>Top-p：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/conversation_settings.py" line="39" />
        <source>Top-k:</source>
        <translation>Top-k：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/conversation_settings.py" line="40" />
        <source>Min-p:</source>
        <translation>Min-p：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/conversation_settings.py" line="41" />
        <source>Repeat penalty:</source>
        <translation>重复惩罚：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/conversation_settings.py" line="42" />
        <source>Max reply tokens:</source>
        <translation>最大回复 token 数：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/conversation_settings.py" line="43" />
        <source>Seed:</source>
        <translation>随机种子：</translation>
    </message>
</context>
<context>
    <name>ConversationSidebar</name>
    <message>
        <location filename="../../autoglm_desktop/qt/conversation_list.py" line="84" />
        <source>New chat</source>
        <translation>新对话</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/conversation_list.py" line="87" />
        <source>Search chats…</source>
        <translation>搜索对话…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/conversation_list.py" line="136" />
        <source>Rename…</source>
        <translation>重命名…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/conversation_list.py" line="137" />
        <source>Export…</source>
        <translation>导出…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/conversation_list.py" line="139" />
        <source>Delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/conversation_list.py" line="150" />
        <source>Rename chat</source>
        <translation>重命名对话</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/conversation_list.py" line="150" />
        <source>New name:</source>
        <translation>新名称：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/conversation_list.py" line="158" />
        <source>Delete chat</source>
        <translation>删除对话</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/conversation_list.py" line="159" />
        <source>Delete “%1” and all its messages? This cannot be undone.</source>
        <translation>删除“%1”及其全部消息？此操作无法撤销。</translation>
    </message>
</context>
<context>
    <name>EditMessageDialog</name>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="70" />
        <source>Edit message</source>
        <translation>编辑消息</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="73" />
        <source>Send</source>
        <translation>发送</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="77" />
        <source>Sending replaces this message and every message after it.</source>
        <translation>发送后将替换这条消息及其后的所有消息。</translation>
    </message>
</context>
<context>
    <name>ErrorBanner</name>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="55" />
        <source>Dismiss</source>
        <translation>关闭</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="111" />
        <location filename="../../autoglm_desktop/qt/main_window.py" line="272" />
        <source>Send</source>
        <translation>发送</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="112" />
        <source>Regenerate</source>
        <translation>重新生成</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="113" />
        <source>Chat settings…</source>
        <translation>对话设置…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="152" />
        <location filename="../../autoglm_desktop/qt/main_window.py" line="249" />
        <source>No model loaded</source>
        <translation>未加载模型</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="161" />
        <source>&amp;Chat</source>
        <translation>对话(&amp;C)</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="162" />
        <source>New chat</source>
        <translation>新对话</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="164" />
        <source>Export chat…</source>
        <translation>导出对话…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="168" />
        <source>Quit</source>
        <translation>退出</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="217" />
        <source>No model found in %1. Run “python3 tasks.py run” once to install the starter model, or put a .gguf file there.</source>
        <translation>在 %1 中没有找到模型。运行一次“python3 tasks.py run”以安装入门模型，或把 .gguf 文件放到那里。</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="230" />
        <source>Loading %1…</source>
        <translation>正在加载 %1…</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="241" />
        <location filename="../../autoglm_desktop/qt/main_window.py" line="283" />
        <source>context %1</source>
        <translation>上下文 %1</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="272" />
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="273" />
        <source>Esc</source>
        <translation>Esc</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="273" />
        <source>Enter</source>
        <translation>Enter</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="278" />
        <source>first token %1 s · %2 tokens/s</source>
        <translation>首个 token %1 秒 · 每秒 %2 个 token</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="315" />
        <source>Export chat</source>
        <translation>导出对话</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="317" />
        <source>Markdown (*.md);;JSON (*.json)</source>
        <translation>Markdown (*.md);;JSON (*.json)</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/main_window.py" line="326" />
        <source>Exported to %1</source>
        <translation>已导出到 %1</translation>
    </message>
</context>
<context>
    <name>MarkdownRender</name>
    <message>
        <location filename="../../autoglm_desktop/qt/markdown_render.py" line="63" />
        <source>Copy</source>
        <translation>复制</translation>
    </message>
</context>
<context>
    <name>ModelBar</name>
    <message>
        <location filename="../../autoglm_desktop/qt/model_bar.py" line="33" />
        <source>Models found on this computer</source>
        <translation>本机上找到的模型</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/model_bar.py" line="34" />
        <location filename="../../autoglm_desktop/qt/model_bar.py" line="92" />
        <source>Load</source>
        <translation>加载</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/model_bar.py" line="39" />
        <source>Loading… %p%</source>
        <translation>加载中… %p%</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/model_bar.py" line="44" />
        <source>Model:</source>
        <translation>模型：</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/model_bar.py" line="60" />
        <source>No models found</source>
        <translation>没有找到模型</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/model_bar.py" line="88" />
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/model_bar.py" line="90" />
        <source>Unload</source>
        <translation>卸载</translation>
    </message>
    <message>
        <location filename="../../autoglm_desktop/qt/model_bar.py" line="95" />
        <source>loaded</source>
        <translation>已加载</translation>
    </message>
</context>
<context>
    <name>PromptEdit</name>
    <message>
        <location filename="../../autoglm_desktop/qt/prompt_edit.py" line="17" />
        <source>Type a message — Enter to send, Shift+Enter for a new line, Esc to stop</source>
        <translation>输入消息 — Enter 发送，Shift+Enter 换行，Esc 停止</translation>
    </message>
</context>
</TS>