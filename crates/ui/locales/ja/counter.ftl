# 店頭端末（services/counter/src/web/）：1024 × 768 のタッチ画面を使う店員向け。
counter-nav-home = ホーム
counter-nav-intake = 受付
counter-nav-arrivals = 入荷
counter-nav-pickup = お渡し
counter-nav-takings = 売上
counter-log-out = ログアウト
counter-cannot = 処理できませんでした
counter-find = 検索
counter-scan-label = 控えをスキャン、または受付番号・電話番号を入力
counter-prints = { $count } 枚

counter-login-title = 店員ログイン
counter-login-name = 名前
counter-login-password = パスワード
counter-login-submit = ログイン

counter-home-title = 店頭
counter-online = ネットワークに接続しています。
counter-offline = オフラインです。受付とお渡しは続けられます。連絡はネットワークが戻りしだい送られます。
counter-home-intake = お客様からメディアを預かる
counter-home-pickup = 控えまたは電話番号で検索
counter-home-arrivals = お渡し可能・配送中・お知らせ
counter-home-takings = 本日のお支払い

counter-intake-title = 店頭受付
counter-intake-customer = お客様
counter-intake-registration = 会員番号（この店のカード）
counter-intake-telephone = 電話番号
counter-intake-name = お名前
counter-intake-medium = メディアとプリント
counter-intake-zip = メディアの ZIP ファイル
counter-intake-files = または写真ファイル
counter-intake-lab = ラボ
counter-intake-size = サイズ
counter-intake-quantity = 1 枚の写真あたりのプリント枚数
counter-intake-dpof = メディアにプリント指定（カメラで指定）があれば、その写真と枚数で受け付けます。
counter-intake-submit = 受け付けて控えを印刷

counter-item-image = 写真
counter-item-size = サイズ
counter-item-prints = 枚数

counter-size-L = L 判（89 × 127 mm）
counter-size-2L = 2L 判（127 × 178 mm）
counter-size-KG = KG 判（102 × 152 mm）
counter-size-DSC = DSC 判（89 × 119 mm）
counter-size-Hagaki = はがき（100 × 148 mm）
counter-size-Square = スクエア（89 × 89 mm）
counter-size-4x6 = 4 × 6 インチ（102 × 152 mm）
counter-size-5x7 = 5 × 7 インチ（127 × 178 mm）
counter-size-8x10 = 8 × 10 インチ（203 × 254 mm）
counter-size-Index = インデックスプリント（全コマ番号付き・L判1枚）

counter-line-basic = 基本料金
counter-line-digital-copy = デジタルコピー(元画像のZIP、お客様がダウンロード)
counter-line-prints = { $size } × { $count }
counter-line-discount = { $what }：{ $percent }% 引き
counter-line-waived = { $what }：無料

counter-state-placed = 受付済み（ラボへ送信前）
counter-state-received = ラボで作業中
counter-state-arrived = ラボから発送済み（未確認）
counter-state-ready_for_pickup = お渡しできます
counter-state-collected = お渡し済み
counter-state-settled = お渡し・精算済み
counter-state-rejected = ラボが受け付けませんでした
counter-state-cancelled = 取り消し
counter-state-handed_on = 受け取り店へ引き継ぎ済み

counter-method-cash = 現金
counter-method-card = カード
counter-method-e-money = 電子マネー
counter-method-qr = QR 決済

counter-slip-title = 受付控え
counter-slip-number = 受付番号
counter-slip-customer = お客様
counter-slip-received = 受付日時
counter-slip-ready-by = お渡し予定
counter-slip-lab = プリント
counter-slip-qr = 受付番号 { $number } の QR コード
counter-slip-owed = お受け取り時のお支払い
counter-slip-counter-charge = 当店の料金
counter-slip-lab-later = ＋ { $lab } のプリント料金（{ $count } 枚分、入荷時に確定）。ここでまとめてお支払いください
counter-slip-bring = お受け取りの際はこの控えをお持ちください。
counter-slip-cancelled = 取り消し済み
counter-slip-cancelled-at = { $time } に取り消されました。プリントもお支払いもありません。
counter-slip-print = 控えを印刷
counter-slip-next = 次のお客様
counter-slip-to-pickup = 注文を開く
counter-slip-paper = 80 mm レシート用紙・A6・A4 のいずれも 1 枚に印刷されます。

counter-cancel = 注文を取り消す…
counter-cancel-title = この注文を取り消しますか？
counter-cancel-what = { $lab } へのプリント { $count } 枚。
counter-cancel-lab = ラボにすぐ伝えます。ラボがすでにプリントを始めていた場合、プリントは届きますが、この店では取り消しのままです。
counter-cancel-why = 理由
counter-cancel-reason-0 = お客様のご希望
counter-cancel-reason-1 = 受付の誤り（メディア・サイズ・ラボの間違い）
counter-cancel-yes = はい、取り消します
counter-cancel-no = いいえ、取り消しません

counter-arrivals-title = 入荷
counter-arrivals-notices = お知らせ
counter-arrivals-no-notices = お知らせはありません。
counter-arrivals-dismiss = 確認済み
counter-arrivals-dismiss-label = { $number } のお知らせを確認済みにする
counter-arrivals-ready = お渡しできるもの
counter-arrivals-no-ready = お渡し待ちはありません。
counter-arrivals-awaiting = ラボから未着
counter-arrivals-no-awaiting = ラボに出している注文はありません。
counter-arrivals-stale = 店頭のサーバーにつながりません。この一覧は古い可能性があります。
counter-notice-rejected = { $lab } がこの注文を受け付けませんでした：{ $reason }。お客様にお伝えください。お支払いはありません。
counter-notice-cancelled = 取り消し：{ $reason }。

counter-col-reception = 受付番号
counter-col-customer = お客様
counter-col-lab = ラボ
counter-col-lab-number = ラボの番号
counter-col-state = 状況
counter-col-when = 入荷・お渡し予定
counter-col-received = 受付日時

counter-pickup-title = お渡しとお支払い
counter-pickup-found = 「{ $q }」の注文 { $count } 件
counter-pickup-check = 控えと照合してください
counter-pickup-prints = プリント
counter-pickup-registered = 会員番号 { $number } ・ 受付 { $time }
counter-pickup-charges = 料金
counter-pickup-lab-charge = { $lab }（ラボ）
counter-pickup-lab-not-yet = { $lab }：プリントはまだ届いていません
counter-pickup-counter-charge = 当店
counter-pickup-due = お支払い金額
counter-pickup-not-arrived = プリントが届いてからお支払いを受け取れます。
counter-pickup-handed-on = { $time } に { $counter } へ引き継ぎました。ラボがプリントをそちらへ送り、お客様はそちらで受け取り、お支払いをします。この店での作業はありません。
counter-pickup-method = お支払い方法
counter-pickup-tendered = お預かり金額（現金）
counter-pickup-exact = ちょうど
counter-pickup-collect = 支払い済み・お渡し
counter-pickup-paid = お支払い済み
counter-pickup-receipt = 領収書を印刷
counter-pickup-slip = 控えを表示

counter-pay-method = お支払い方法を選んでください。
counter-pay-not-a-number = お預かり金額を整数で入力してください。ちょうどの場合は空欄のままにしてください。
counter-pay-too-little = { $tendered } はお支払い金額 { $due } より少ないです。
counter-pay-too-much = { $tendered } は { $due } にお釣り { $most } を足した額を超えています。入力を確認してください。
counter-pay-not-exact = { $method } のお支払いはちょうど { $due } です。

counter-receipt-title = 領収書
counter-receipt-done = お支払いを受け取りました。プリントと領収書をお渡しください。
counter-receipt-heading = 領収書
counter-receipt-total = 合計
counter-receipt-change = お釣り
counter-receipt-thanks = ありがとうございました。
counter-receipt-print = 領収書を印刷
counter-receipt-next = 次のお客様

counter-takings-title = 売上
counter-takings-day = 日付
counter-takings-show = 表示
counter-takings-summary = お支払い { $count } 件：当店分 { $counter }、ラボ分 { $labs }
counter-takings-by-method = お支払い方法別
counter-takings-method = 方法
counter-takings-count = 件数
counter-takings-total = 合計
counter-takings-by-lab = ラボ別
counter-takings-collected = その日の受取額
counter-takings-settled = その日の精算額
counter-takings-owed = 未精算

counter-problem-invalid = 入力内容を確認してください
counter-problem-medium = このメディアは受け付けられません
counter-problem-order = ラボがこの注文を受け付けられません
counter-problem-not-found = 見つかりません
counter-problem-foreign = 他の店の控えです
counter-problem-refused = 今はできません
counter-problem-unauthorized = ログインしていません
counter-problem-unauthorized-detail = 名前またはパスワードが違います。
counter-problem-expired = このページは期限切れです
counter-problem-expired-detail = ページを開き直して、もう一度操作してください。
counter-problem-too-many = 試行回数が多すぎます
counter-problem-busy = 混み合っています
counter-problem-busy-detail = 同じ注文を同時に処理していました。もう一度お試しください。
counter-problem-ours = システムの問題が起きました
counter-problem-ours-detail = 記録しました。もう一度お試しください。続く場合はサポートに連絡してください。

counter-refused-not-arrived = プリントがまだラボから届いていません（{ $state }）。
counter-refused-collected = プリントはすでにお渡し済みです。
counter-refused-withdrawn = この注文は「{ $state }」です。これ以上の操作はできません。
counter-refused-too-late = 取り消せません：プリントはすでに届いています（{ $state }）。
counter-refused-reason = 取り消しの理由を選んでください。
counter-refused-other = この注文では今その操作はできません。

counter-check-in-label = ラボからの荷物：ラベル（ラボの受付番号）をスキャン
counter-check-in = 入荷確認
counter-check-in-done = { $number }（{ $name } 様）を入荷確認しました。お渡しできます。
counter-slip-pickup-at = お受け取り店
counter-slip-taken-in-at = 受付店
counter-check-in-parcel-done = 梱包リストで入荷確認しました。{ $count } 件お渡しできます。
