# ラボのオペレーター画面 (services/lab/src/web)、日本語。

lab-nav-queue = 作業一覧
lab-nav-dispatch = 発送
lab-nav-ledger = 精算台帳
lab-log-out = ログアウト
lab-log-in = ログイン
lab-login-name = 名前
lab-login-password = パスワード
lab-login-give-both = 名前とパスワードを入力してください。
lab-not-done = できませんでした
lab-back-to-queue = 作業一覧へ戻る
lab-none = ありません。
lab-yes = あり
lab-no = なし

lab-search-label = 受付を探す
lab-search-placeholder = 受付番号・控え番号・電話番号・氏名
lab-search-button = 検索
lab-search-title = 受付を探す
lab-search-found = 「{ $q }」の検索結果: { $count } 件

lab-state-received = 印刷待ち
lab-state-printing = 印刷中
lab-state-printed = 印刷済み
lab-state-dispatched = 受付店へ発送済み
lab-state-collected = お渡し済み
lab-state-settled = 精算済み
lab-state-rejected = お断り
lab-state-cancelled = 取消

lab-route-internet = インターネット
lab-route-counter = 店頭 (メディア)
lab-size-postcard = はがき

lab-queue-title = 作業一覧
lab-queue-summary = 印刷待ち { $waiting } 件、印刷中 { $printing } 件、印刷済み { $printed } 件
lab-updated = 更新
lab-filters = 絞り込み
lab-filter-all = すべて
lab-filter-show = 表示
lab-filter-clear = 絞り込みを解除
lab-col-counter = お渡し店
lab-col-printer = プリンター
lab-col-size = サイズ
lab-col-route = 受付経路
lab-col-due = 仕上がり予定
lab-col-reception = 受付番号
lab-col-received = 受付日時
lab-col-data-start = データ受信開始
lab-col-data-finish = データ受信終了
lab-col-prints = 枚数
lab-col-amount = 金額
lab-col-state = 状態
lab-col-at = 日時
lab-col-by = 担当
lab-col-note = メモ
lab-due-late = 遅れ
lab-due-hour = 1 時間以内
lab-due-today = 本日まで
lab-due-at = 仕上がり予定
lab-due-was = 遅れ: 予定
lab-counter-slip = 受付店の控え番号
lab-per-printer = プリンター別
lab-per-counter = お渡し店別
lab-count-receptions-prints = { $receptions } 件 { $prints } 枚

lab-batch-title = まとめて印刷開始
lab-batch-start = { $printer }・{ $size }: { $receptions } 件 ({ $prints } 枚) を印刷開始
lab-batch-done-title = 印刷を開始しました
lab-batch-done = { $printer }・{ $size } で { $count } 件の印刷を開始しました。
lab-batch-failed = 開始できなかった受付

lab-action-start = 印刷開始
lab-action-finished = 印刷完了
lab-action-dispatch = 受付店へ発送

lab-reception = 受付
lab-warnings = 印刷前に確認してください
lab-warn-low-resolution = このサイズには画素が足りません: 用紙上 { $dpi } dpi (必要 { $wanted } dpi)
lab-warn-profile = 色のプロファイルが使えませんでした ({ $reason })。sRGB として印刷します
lab-reprints = 以前にこのラボで印刷
lab-reprint-line = 同じ写真を { $on } に印刷しています (受付 { $reception })
lab-prints = プリント
lab-user-id-area = 利用者識別エリア
lab-reception-area = 受付内容エリア
lab-registration-number = 登録番号
lab-name = 氏名
lab-telephone = 電話番号
lab-address = 住所
lab-email = メール
lab-registered = 登録日時
lab-images-prints = 写真 { $images } 点・{ $prints } 枚
lab-file-open = 受付中
lab-file-collected = お渡し済み
lab-file-cancelled = 取消
lab-charge = 料金
lab-total = 合計
lab-production-log = 作業記録
lab-digital-copy = データ保存
lab-reject-reason = お断りする (お客様に伝わる理由)
lab-reject = お断りする

lab-dispatch-title = 受付店への発送
lab-dispatch-nothing = 発送を待つ印刷済みの受付はありません。
lab-dispatch-all = この { $count } 件を { $counter } へ発送し、送り状を印刷
lab-packing-title = { $counter } への送り状
lab-print-list = 送り状を印刷

lab-ledger-title = お渡し店別の精算台帳
lab-ledger-charged = 請求
lab-ledger-collected = 受付店の集金
lab-ledger-paid = 入金
lab-ledger-owed = 未払い

lab-nav-printers = プリンター
lab-printers-title = プリンターの状態
lab-rated = 定格 1 時間 { $count } 枚
lab-hot-folder-unreadable = ホットフォルダーを読めません
lab-job-waiting = 取り込み待ち
lab-job-taken = 印刷機が取り込み済み
lab-job-done = 完了
lab-job-failed = 失敗
lab-job-void = 取り下げ
lab-job-old = 30 分以上待ち
lab-job-done-hour = 直近 1 時間の完了
lab-job-folder = ジョブ
lab-job-written = 書き込み日時
lab-scan-code = 受付店での読み取り
lab-reject-image = この画像をプリントしない…
lab-reject-image-why = 理由（お客様に表示されます）
lab-reject-why-damaged = 画像データが壊れていて読み込めません。
lab-reject-why-resolution = 画像の解像度がこのプリントサイズには足りません。
lab-reject-why-content = 画像の内容がプリントできないものです。
lab-reject-why-other = その他の理由（下に記入）
lab-reject-image-text = 理由の説明（その他の場合は必須）
lab-reject-image-confirm = この画像を注文から外します
lab-reject-image-button = この画像を外す
lab-reject-image-done = プリントしません（ラボが取り下げ）
lab-reject-image-last = プリントする最後の画像です。外すと注文全体が取り下げになります。
lab-reject-image-pick = プリントしない理由を選んでください。
lab-reject-image-say = お客様に伝える理由を書いてください。
lab-reject-image-unconfirmed = 画像を外すことを確認するにはチェックを入れてください。

# The keyboard shortcuts at the foot of every page.
lab-keys = キー操作:
lab-key-search = 検索
lab-key-next = 受付の次の作業

## Printers: the print jobs on their way to the hot folder (print workers)
lab-print-jobs = ホットフォルダーへ書き出し中の印刷ジョブ
lab-pjob-queued = 待ち
lab-pjob-rendering = 作成中
lab-pjob-written = 書き出し済み
lab-pjob-failed = 書き出せません
lab-pjob-withdrawn = 取り下げ
lab-pjob-worker = 担当
lab-pjob-none = すべてのジョブがホットフォルダーにあります。
